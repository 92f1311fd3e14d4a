using System.Text;
using Router.Actors.Security;
using Router.Protocol;
using Router.Protocol.Sasl;

namespace Router.Actors.Tests.Security;

/// <summary>SASL decoding (RFC 4954, RFC 4616), PBKDF2 password hashes, the users file and sender ownership.</summary>
public sealed class AuthPrimitivesTests
{
    private static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void PLAIN_message_decodes_with_or_without_an_equal_authorization_identity()
    {
        var plain = SaslDecoder.DecodePlain(Encoding.UTF8.GetBytes("\0alice@example.test\0pässword"))!;
        Assert.Equal(("alice@example.test", "pässword"), (plain.User, plain.Password));
        Assert.NotNull(SaslDecoder.DecodePlain(Encoding.UTF8.GetBytes("alice\0alice\0pw")));
    }

    [Fact]
    public void A_PLAIN_message_acting_as_another_user_decodes_with_that_identity_to_refuse()
    {
        var plain = SaslDecoder.DecodePlain(Encoding.UTF8.GetBytes("bob\0alice\0pw"))!;
        Assert.Equal(("alice", "pw", "bob"), (plain.User, plain.Password, plain.ActingAs));
        Assert.Null(SaslDecoder.DecodePlain(Encoding.UTF8.GetBytes("alice\0alice\0pw"))!.ActingAs);
    }

    [Theory]
    [InlineData("\0alice\0")]        // empty password
    [InlineData("\0\0pw")]           // empty user
    [InlineData("alice\0pw")]        // one NUL
    [InlineData("\0alice\0pw\0x")]   // NUL in the password
    public void Malformed_or_proxy_PLAIN_messages_are_refused(string message) =>
        Assert.Null(SaslDecoder.DecodePlain(Encoding.UTF8.GetBytes(message)));

    [Fact]
    public void Invalid_UTF8_in_PLAIN_is_refused()
    {
        Assert.Null(SaslDecoder.DecodePlain([0, (byte)'a', 0, 0xff, 0xfe]));
        Assert.Null(SaslDecoder.DecodePlain([0xff, 0, (byte)'a', 0, (byte)'p']));
    }

    [Fact]
    public void Responses_are_base64_with_equals_for_empty_and_star_cancels()
    {
        Assert.Equal(Ascii("alice"), SaslDecoder.DecodeResponse(Ascii("YWxpY2U=")));
        Assert.Empty(SaslDecoder.DecodeResponse(Ascii("="))!);
        Assert.Null(SaslDecoder.DecodeResponse(Ascii("not base64!")));
        Assert.Null(SaslDecoder.DecodeResponse([]));
        Assert.True(SaslDecoder.IsCancel(Ascii("*")));
        Assert.False(SaslDecoder.IsCancel(Ascii("**")));
    }

    [Fact]
    public void AUTH_argument_splits_into_mechanism_and_initial_response()
    {
        Assert.True(SaslDecoder.TryParseAuth(Ascii("plain AGEAYg=="), out var mechanism, out var initial));
        Assert.Equal("PLAIN", mechanism);
        Assert.Equal(Ascii("AGEAYg=="), initial);
        Assert.True(SaslDecoder.TryParseAuth(Ascii("LOGIN"), out mechanism, out initial));
        Assert.Equal("LOGIN", mechanism);
        Assert.Null(initial);
        Assert.False(SaslDecoder.TryParseAuth(Ascii(""), out _, out _));
        Assert.False(SaslDecoder.TryParseAuth(Ascii("PLAIN a b"), out _, out _));
    }

    [Fact]
    public void Credentials_never_print_their_password() =>
        Assert.DoesNotContain("secret", new SaslCredentials("alice", "secret").ToString(), StringComparison.Ordinal);

    [Fact]
    public void Password_hash_has_the_documented_format_and_verifies()
    {
        var encoded = PasswordHash.Create("correct horse");
        var parts = encoded.Split(':');
        Assert.Equal("pbkdf2-sha256", parts[0]);
        Assert.True(int.Parse(parts[1]) >= 210_000);
        Assert.Equal(16, Convert.FromBase64String(parts[2]).Length);
        Assert.Equal(32, Convert.FromBase64String(parts[3]).Length);
        Assert.True(PasswordHash.Verify("correct horse", encoded));
        Assert.False(PasswordHash.Verify("correct horse!", encoded));
        Assert.NotEqual(encoded, PasswordHash.Create("correct horse")); // a fresh salt each time
    }

    [Theory]
    [InlineData("pbkdf2-sha256:0:AAAAAAAAAAAAAAAAAAAAAA==:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("md5:1000:AAAAAAAAAAAAAAAAAAAAAA==:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]
    [InlineData("pbkdf2-sha256:1000:not-base64:AAAA")]
    [InlineData("plaintext")]
    public void Malformed_hashes_never_verify(string encoded) => Assert.False(PasswordHash.Verify("", encoded));

    [Fact]
    public void Users_file_round_trips_and_is_reread_when_changed()
    {
        var path = Path.Combine(Path.GetTempPath(), "router-users-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = new UserStore(path);
            Assert.False(store.Verify("alice", "pw"));
            Assert.False(store.Set("Alice", "pw", iterations: 1000));
            Assert.True(store.Verify("ALICE", "pw"));
            Assert.False(store.Verify("alice", "PW"));

            // Another process (router user add) changes the file: a running store sees it.
            var other = new UserStore(path);
            Assert.True(other.Set("alice", "new", iterations: 1000));
            Assert.False(other.Set("bob", "pw", iterations: 1000));
            Assert.True(store.Verify("alice", "new"));
            Assert.Equal(["alice", "bob"], store.List());
            Assert.True(store.Remove("bob"));
            Assert.False(store.Remove("bob"));
            Assert.Throws<ArgumentException>(() => store.Set("eve:x", "pw"));
            Assert.Throws<ArgumentException>(() => store.Set("eve x", "pw"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Sender_ownership_follows_the_login_maps_and_defaults_to_the_user_name()
    {
        var owners = new SenderOwnership(new Dictionary<string, IReadOnlyList<string>>
        {
            ["bob"] = ["bob@example.test", "@bob.test"],
        });
        Assert.True(owners.Owns("bob", new MailAddress("Bob", "EXAMPLE.test"), "+"));
        Assert.True(owners.Owns("BOB", new MailAddress("anyone", "bob.test"), "+"));
        Assert.False(owners.Owns("bob", new MailAddress("anyone", "sub.bob.test"), "+"));
        Assert.False(owners.Owns("bob", new MailAddress("alice", "example.test"), "+"));
        Assert.True(owners.Owns("alice@example.test", new MailAddress("alice", "example.test"), "+"));
        Assert.False(owners.Owns("alice@example.test", new MailAddress("alice", "example.test.evil"), "+"));
        Assert.False(owners.Owns("carol", new MailAddress("carol", "example.test"), "+"));
    }

    [Theory]
    [InlineData("alice@example.test", "alice+tag", "example.test")]
    [InlineData("alice@example.test", "Alice+Lists+2026", "EXAMPLE.test")]
    [InlineData("bob", "bob+tag", "example.test")]
    [InlineData("bob", "bob-tag", "example.test")]
    public void An_address_extension_belongs_to_the_owner_of_the_address_without_it(string user, string local, string domain)
    {
        var owners = new SenderOwnership(new Dictionary<string, IReadOnlyList<string>> { ["bob"] = ["bob@example.test"] });
        Assert.True(owners.Owns(user, new MailAddress(local, domain), "+-"));
    }

    [Theory]
    [InlineData("alice@example.test", "alice+tag", "example.test", "")]
    [InlineData("alice@example.test", "alicex+tag", "example.test", "+")]
    [InlineData("alice@example.test", "+alice", "example.test", "+")]
    [InlineData("alice@example.test", "alice+tag", "example.test.evil", "+")]
    [InlineData("bob", "carol+bob", "example.test", "+")]
    public void Without_a_delimiter_or_with_another_address_behind_it_the_extension_is_not_owned(string user, string local, string domain, string delimiter)
    {
        var owners = new SenderOwnership(new Dictionary<string, IReadOnlyList<string>> { ["bob"] = ["bob@example.test"] });
        Assert.False(owners.Owns(user, new MailAddress(local, domain), delimiter));
    }

    [Fact]
    public void Submission_adds_only_the_missing_Date_and_Message_ID()
    {
        var now = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        var both = Encoding.ASCII.GetString(SubmissionHeaders.Missing(Ascii("Subject: x\r\n\r\nDate: in the body\r\n"), "mx.example.test", "Q1", now));
        Assert.Equal("Date: Fri, 02 Jan 2026 03:04:05 +0000\r\nMessage-ID: <Q1@mx.example.test>\r\n", both);
        Assert.Empty(SubmissionHeaders.Missing(Ascii("date: x\r\nMESSAGE-ID: <a@b>\r\n\r\n"), "h", "u", now));
        var idOnly = Encoding.ASCII.GetString(SubmissionHeaders.Missing(Ascii("Date : x\r\nSubject: y\r\n\r\n"), "h", "u", now));
        Assert.Equal("Message-ID: <u@h>\r\n", idOnly);
        // A folded continuation that starts with "Date:" is not a Date field.
        Assert.StartsWith("Date: ", Encoding.ASCII.GetString(SubmissionHeaders.Missing(Ascii("Subject: a\r\n Date: b\r\nMessage-ID: <c@d>\r\n\r\n"), "h", "u", now)), StringComparison.Ordinal);
    }
}
