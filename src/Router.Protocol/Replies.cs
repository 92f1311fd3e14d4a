namespace Router.Protocol;

/// <summary>
/// The fixed replies of the server side, formatted once. Codes follow RFC 5321 s4.2/s4.3 and the
/// enhanced codes RFC 3463 (X.5.x protocol, X.1.x address, X.3.x system, X.7.x policy).
/// </summary>
public static class Replies
{
    public static readonly SmtpReply Ok = new(250, "2.0.0", "OK");
    public static readonly SmtpReply SenderOk = new(250, "2.1.0", "Sender OK");
    public static readonly SmtpReply RecipientOk = new(250, "2.1.5", "Recipient OK");
    public static readonly SmtpReply ResetOk = new(250, "2.0.0", "Reset state");
    public static readonly SmtpReply NoopOk = new(250, "2.0.0", "OK");
    public static readonly SmtpReply StartData = new(354, null, "End data with <CR><LF>.<CR><LF>");
    public static readonly SmtpReply Help = new(214, "2.0.0", "Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY", "See RFC 5321");
    public static readonly SmtpReply CannotVrfy = new(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery");
    public static readonly SmtpReply ExpnDisabled = new(502, "5.5.1", "EXPN not available");
    public static readonly SmtpReply NotImplemented = new(502, "5.5.1", "Command not implemented");
    public static readonly SmtpReply UnknownCommand = new(500, "5.5.1", "Command unrecognized");
    public static readonly SmtpReply LineTooLong = new(500, "5.5.2", "Line too long");
    public static readonly SmtpReply SyntaxError = new(501, "5.5.4", "Syntax error in parameters or arguments");
    public static readonly SmtpReply BadSequence = new(503, "5.5.1", "Bad sequence of commands");
    public static readonly SmtpReply NeedHelo = new(503, "5.5.1", "Send HELO/EHLO first");
    public static readonly SmtpReply NeedMail = new(503, "5.5.1", "Need MAIL command");
    public static readonly SmtpReply NeedRcpt = new(503, "5.5.1", "Need RCPT command");
    public static readonly SmtpReply NestedMail = new(503, "5.5.1", "Sender already specified");
    public static readonly SmtpReply BdatMixed = new(503, "5.5.1", "DATA not allowed after BDAT");
    public static readonly SmtpReply UnknownParameter = new(555, "5.5.4", "Unsupported MAIL/RCPT parameter");
    public static readonly SmtpReply BadSenderSyntax = new(501, "5.1.7", "Bad sender address syntax");
    public static readonly SmtpReply BadRecipientSyntax = new(501, "5.1.3", "Bad recipient address syntax");
    public static readonly SmtpReply BadHeloSyntax = new(501, "5.5.4", "Invalid domain name in HELO/EHLO");
    public static readonly SmtpReply Utf8NotDeclared = new(553, "5.6.7", "Non-ASCII address requires SMTPUTF8");
    public static readonly SmtpReply SizeExceeded = new(552, "5.3.4", "Message size exceeds fixed maximum message size");
    public static readonly SmtpReply TooManyRecipients = new(452, "4.5.3", "Too many recipients");
    public static readonly SmtpReply InsufficientStorage = new(452, "4.3.1", "Insufficient system storage");
    public static readonly SmtpReply InsufficientMemory = new(452, "4.3.1", "Insufficient system resources, try again later");
    public static readonly SmtpReply NoSuchUser = new(550, "5.1.1", "Mailbox unavailable: no such user here");
    public static readonly SmtpReply RelayDenied = new(554, "5.7.1", "Relay access denied");
    public static readonly SmtpReply TooManyHops = new(554, "5.4.6", "Too many hops: mail loop detected");
    public static readonly SmtpReply BareLineEnding = new(550, "5.6.0", "Message contains a bare CR or LF: lines must end with CRLF");
    public static readonly SmtpReply NulInData = new(550, "5.6.0", "Message contains NUL characters");
    public static readonly SmtpReply DataLineTooLong = new(550, "5.6.0", "Message line longer than 998 octets");
    public static readonly SmtpReply LocalError = new(451, "4.3.0", "Local error in processing: message not accepted, try again later");
    public static readonly SmtpReply IdleTimeout = new(421, "4.4.2", "Idle timeout: closing connection");
    public static readonly SmtpReply TooManyErrors = new(421, "4.7.0", "Too many errors: closing connection");
    public static readonly SmtpReply TooManyJunkCommands = new(421, "4.7.0", "Too many commands without mail: closing connection");
    public static readonly SmtpReply ChunkTooLarge = new(552, "5.3.4", "Chunk exceeds message size limit");
    public static readonly SmtpReply ShuttingDown = new(421, "4.3.2", "Service shutting down: closing connection");
    public static readonly SmtpReply TooManyConnections = new(421, "4.7.0", "Too many connections: try again later");
    public static readonly SmtpReply TlsNotAvailable = new(454, "4.7.0", "TLS not available");
    public static readonly SmtpReply ReadyForTls = new(220, "2.0.0", "Ready to start TLS");
    public static readonly SmtpReply EncryptionRequired = new(538, "5.7.11", "Encryption required for requested authentication mechanism");
    public static readonly SmtpReply AuthRequired = new(530, "5.7.0", "Authentication required");
    public static readonly SmtpReply ImproperTlsPipelining = new(554, "5.5.1", "Error: improper command pipelining after STARTTLS");
    public static readonly SmtpReply AuthSucceeded = new(235, "2.7.0", "Authentication successful");
    public static readonly SmtpReply AuthFailed = new(535, "5.7.8", "Authentication credentials invalid");
    public static readonly SmtpReply AuthCancelled = new(501, "5.0.0", "Authentication cancelled");
    public static readonly SmtpReply AuthBadResponse = new(501, "5.5.2", "Cannot decode the authentication response");
    public static readonly SmtpReply AuthLineTooLong = new(500, "5.5.6", "Authentication exchange line is too long");
    public static readonly SmtpReply AuthUnknownMechanism = new(504, "5.5.4", "Unrecognized authentication type");
    public static readonly SmtpReply AlreadyAuthenticated = new(503, "5.5.1", "Already authenticated");
    public static readonly SmtpReply TooManyAuthFailures = new(421, "4.7.0", "Too many authentication failures: closing connection");
    public static readonly SmtpReply SenderNotOwned = new(553, "5.7.1", "Sender address rejected: not owned by the authenticated user");
    public static readonly SmtpReply MessageRateExceeded = new(450, "4.7.1", "Too many messages from this client: slow down");
    public static readonly SmtpReply TooManyConnectionsFromClient = new(421, "4.7.0", "Too many connections from this client: try again later");
    public static readonly SmtpReply ConnectionRateExceeded = new(421, "4.7.0", "Too many connections from this client in the last minute: try again later");
}
