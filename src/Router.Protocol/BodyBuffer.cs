using System.Buffers;
using System.Numerics;

namespace Router.Protocol;

/// <summary>
/// A growable byte buffer rented from the shared array pool, holding one message body while it is
/// received. Return it with <see cref="Dispose"/>; the memory must not be used afterwards. With a
/// <see cref="BodyMemoryBudget"/>, the array it holds is counted against it, and
/// <see cref="TryWrite"/> refuses a growth the budget cannot cover.
/// </summary>
public sealed class BodyBuffer : IBufferWriter<byte>, IDisposable
{
    private readonly BodyMemoryBudget? _budget;
    private byte[] _array;
    private int _length;

    public BodyBuffer(int initialCapacity = 16 * 1024, BodyMemoryBudget? budget = null)
    {
        _array = ArrayPool<byte>.Shared.Rent(initialCapacity);
        _budget = budget;
        _budget?.Reserve(_array.Length);
    }

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

    /// <summary>Appends <paramref name="bytes"/>, unless holding them would take more than the budget allows.</summary>
    public bool TryWrite(ReadOnlySpan<byte> bytes)
    {
        if (!TryEnsure(bytes.Length, force: false)) return false;
        bytes.CopyTo(_array.AsSpan(_length));
        _length += bytes.Length;
        return true;
    }

    public void Clear() => _length = 0;

    public void Dispose()
    {
        var array = Interlocked.Exchange(ref _array, []);
        if (array.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(array);
            _budget?.Release(array.Length);
        }
        _length = 0;
    }

    /// <summary>Grows as needed; with a budget, the growth is counted even past its limit.</summary>
    private void Ensure(int sizeHint) => _ = TryEnsure(sizeHint, force: true);

    private bool TryEnsure(int sizeHint, bool force)
    {
        if (sizeHint < 1) sizeHint = 1;
        if (_array.Length - _length >= sizeHint) return true;
        // What the pool hands out for this request (a power of two), reserved before it is rented.
        var size = (int)Math.Min(BitOperations.RoundUpToPowerOf2((uint)Math.Max(_array.Length * 2, _length + sizeHint)), Array.MaxLength);
        if (_budget is not null)
        {
            if (force) _budget.Reserve(size - _array.Length);
            else if (!_budget.TryReserve(size - _array.Length)) return false;
        }
        var grown = ArrayPool<byte>.Shared.Rent(size);
        _array.AsSpan(0, _length).CopyTo(grown);
        ArrayPool<byte>.Shared.Return(_array);
        if (grown.Length != size) _budget?.Reserve(grown.Length - size); // the budget counts what is held
        _array = grown;
        return true;
    }
}
