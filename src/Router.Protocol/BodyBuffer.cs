using System.Buffers;

namespace Router.Protocol;

/// <summary>
/// A growable byte buffer rented from the shared array pool, holding one message body while it is
/// received. Return it with <see cref="Dispose"/>; the memory must not be used afterwards.
/// </summary>
public sealed class BodyBuffer : IBufferWriter<byte>, IDisposable
{
    private byte[] _array;
    private int _length;

    public BodyBuffer(int initialCapacity = 16 * 1024) => _array = ArrayPool<byte>.Shared.Rent(initialCapacity);

    public int Length => _length;

    public ReadOnlyMemory<byte> Memory => _array.AsMemory(0, _length);

    public ReadOnlySpan<byte> Span => _array.AsSpan(0, _length);

    public void Advance(int count) => _length += count;

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsMemory(_length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _array.AsSpan(_length);
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_array.AsSpan(_length));
        _length += bytes.Length;
    }

    public void Clear() => _length = 0;

    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, []);
        if (array.Length > 0) ArrayPool<byte>.Shared.Return(array);
        _length = 0;
    }

    private void Ensure(int sizeHint)
    {
        if (sizeHint < 1) sizeHint = 1;
        if (_array.Length - _length >= sizeHint) return;
        var grown = ArrayPool<byte>.Shared.Rent(Math.Max(_array.Length * 2, _length + sizeHint));
        _array.AsSpan(0, _length).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_array);
        _array = grown;
    }
}
