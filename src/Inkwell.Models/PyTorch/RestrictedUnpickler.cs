using System.Buffers.Binary;
using System.Text;

namespace Inkwell.Models.PyTorch;

/// <summary>A storage as a checkpoint's persistent id names it: ('storage', torch.XStorage, key, location, numel).</summary>
public sealed record StorageReference(TorchDType DType, string Key, long ElementCount);

/// <summary>torch._utils._rebuild_tensor_v2's arguments: a view of a storage (offsets and strides in elements).</summary>
public sealed record TensorReference(StorageReference Storage, long StorageOffset, long[] Shape, long[] Strides);

/// <summary>
/// A pickle reader that knows exactly what a PyTorch state dict needs and nothing else: dicts (and
/// collections.OrderedDict), tuples, lists, numbers, strings, storages by persistent id, and tensors rebuilt by
/// torch._utils._rebuild_tensor_v2 / _rebuild_parameter. Every other global (os.system, builtins.eval, any class)
/// and every opcode that would build an arbitrary object is refused with an <see cref="InvalidDataException"/>
/// before anything happens: nothing in the file is ever called. The callables it knows are interpreted here.
/// </summary>
public sealed class RestrictedUnpickler
{
    private readonly byte[] _data;
    private readonly string _source;
    private int _position;
    private readonly List<object?> _stack = [];
    private readonly List<int> _marks = [];
    private readonly Dictionary<long, object?> _memo = [];

    private RestrictedUnpickler(byte[] data, string source)
    {
        _data = data;
        _source = source;
    }

    /// <summary>The unpickled root object: an ordered dictionary, list, tuple (object?[]), string, number or <see cref="TensorReference"/>.</summary>
    public static object? Load(byte[] pickle, string source) => new RestrictedUnpickler(pickle, source).Run();

    /// <summary>The callables a state dict may name; each is evaluated by this reader, not imported.</summary>
    private enum KnownCallable { OrderedDict, RebuildTensorV2, RebuildParameter, TorchSize }

    private sealed record Global(KnownCallable Callable);

    private sealed record StorageType(TorchDType DType);

    private sealed record Mark;

    private object? Run()
    {
        while (true)
        {
            if (_position >= _data.Length) throw Bad("ends without a STOP opcode");
            byte op = _data[_position++];
            switch (op)
            {
                case 0x80: _position++; break;                                    // PROTO n
                case 0x95: _position += 8; break;                                 // FRAME size
                case (byte)'.': return Pop();                                      // STOP
                case (byte)'(': _marks.Add(_stack.Count); break;                  // MARK
                case (byte)'N': Push(null); break;                                 // NONE
                case 0x88: Push(true); break;                                      // NEWTRUE
                case 0x89: Push(false); break;                                     // NEWFALSE
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case (byte)'K': Push((long)Take(1)[0]); break;                    // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case 0x8a: Push(Long(Take(Take(1)[0]))); break;                    // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'X': Push(Utf8(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break; // BINUNICODE
                case 0x8c: Push(Utf8(Take(Take(1)[0]))); break;                    // SHORT_BINUNICODE
                case (byte)'T': Push(Latin1(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))))); break; // BINSTRING
                case (byte)'U': Push(Latin1(Take(Take(1)[0]))); break;            // SHORT_BINSTRING
                case (byte)'C': Push(Take(Take(1)[0]).ToArray()); break;          // SHORT_BINBYTES
                case (byte)'B': Push(Take(BinaryPrimitives.ReadInt32LittleEndian(Take(4))).ToArray()); break; // BINBYTES
                case (byte)'}': Push(new PickleDictionary()); break;              // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break;                 // EMPTY_LIST
                case (byte)')': Push(Array.Empty<object?>()); break;              // EMPTY_TUPLE
                case (byte)'t': Push(PopToMark().ToArray()); break;               // TUPLE
                case 0x85: Push(new[] { Pop() }); break;                           // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new[] { a, b }); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new[] { a, b, c }); break; } // TUPLE3
                case (byte)'a': { var v = Pop(); As<List<object?>>(Peek(), "APPEND").Add(v); break; }
                case (byte)'e': { var items = PopToMark(); As<List<object?>>(Peek(), "APPENDS").AddRange(items); break; }
                case (byte)'s': { var v = Pop(); var k = Pop(); As<PickleDictionary>(Peek(), "SETITEM").Set(k, v, this); break; }
                case (byte)'u':                                                    // SETITEMS
                {
                    var items = PopToMark();
                    var dict = As<PickleDictionary>(Peek(), "SETITEMS");
                    for (int i = 0; i + 1 < items.Count; i += 2) dict.Set(items[i], items[i + 1], this);
                    break;
                }
                case (byte)'q': Memoize(Take(1)[0]); break;                        // BINPUT
                case (byte)'r': Memoize(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))); break; // LONG_BINPUT
                case 0x94: Memoize(_memo.Count); break;                            // MEMOIZE
                case (byte)'h': Push(Recall(Take(1)[0])); break;                   // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET
                case (byte)'c':                                                    // GLOBAL "module\nname\n"
                {
                    string module = Line(), name = Line();
                    Push(Resolve(module, name));
                    break;
                }
                case 0x93:                                                         // STACK_GLOBAL
                {
                    var name = Pop() as string ?? throw Bad("STACK_GLOBAL without a string name");
                    var module = Pop() as string ?? throw Bad("STACK_GLOBAL without a string module");
                    Push(Resolve(module, name));
                    break;
                }
                case (byte)'Q': Push(PersistentLoad(Pop())); break;               // BINPERSID
                case (byte)'R':                                                    // REDUCE
                {
                    var args = Pop() as object?[] ?? throw Bad("REDUCE without an argument tuple");
                    var callable = Pop();
                    Push(callable is Global g ? Call(g.Callable, args) : throw Bad($"REDUCE on {Describe(callable)}, which is not a callable this reader knows"));
                    break;
                }
                case (byte)'b':                                                    // BUILD
                    // The state is dropped: a state dict's is its _metadata (module versions), which tensors do not need.
                    Pop();
                    if (Peek() is not (PickleDictionary or TensorReference))
                        throw Bad($"BUILD on {Describe(Peek())}: only dictionaries and tensors take state here");
                    break;
                default:
                    throw Bad($"opcode 0x{op:x2} ('{(op is >= 0x20 and < 0x7f ? (char)op : '?')}') at byte {_position - 1} is not allowed in a state dict " +
                        "(object construction, extensions and other opcodes are refused)");
            }
        }
    }

    private object Resolve(string module, string name)
    {
        switch (module, name)
        {
            case ("collections", "OrderedDict"): return new Global(KnownCallable.OrderedDict);
            case ("torch._utils", "_rebuild_tensor_v2"): return new Global(KnownCallable.RebuildTensorV2);
            case ("torch._utils", "_rebuild_parameter"): return new Global(KnownCallable.RebuildParameter);
            case ("torch", "Size"): return new Global(KnownCallable.TorchSize);
        }
        if (module == "torch" && TorchDTypes.FromStorageName(name) is { } dtype) return new StorageType(dtype);
        throw Bad($"refusing global {module}.{name}: a state dict of tensors never needs it, and this reader never imports or calls anything " +
            "(allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter, torch.Size, torch.*Storage)");
    }

    private object? Call(KnownCallable callable, object?[] args)
    {
        switch (callable)
        {
            case KnownCallable.OrderedDict:
                if (args.Length != 0) throw Bad("collections.OrderedDict called with arguments");
                return new PickleDictionary();
            case KnownCallable.TorchSize:
                if (args is not [object?[] dims]) throw Bad("torch.Size needs one tuple");
                return dims;
            case KnownCallable.RebuildParameter:
                if (args.Length < 1 || args[0] is not TensorReference data) throw Bad("_rebuild_parameter without a tensor");
                return data;
            case KnownCallable.RebuildTensorV2:
            {
                if (args.Length < 4 || args[0] is not StorageReference storage)
                    throw Bad("_rebuild_tensor_v2 needs (storage, offset, size, stride, ...)");
                long offset = args[1] is long o ? o : throw Bad("_rebuild_tensor_v2: storage offset is not an integer");
                var shape = Integers(args[2], "size");
                var strides = Integers(args[3], "stride");
                if (shape.Length != strides.Length) throw Bad($"_rebuild_tensor_v2: {shape.Length} sizes but {strides.Length} strides");
                return new TensorReference(storage, offset, shape, strides);
            }
            default:
                throw Bad($"unknown callable {callable}");
        }
    }

    private StorageReference PersistentLoad(object? pid)
    {
        if (pid is not object?[] { Length: 5 } t || t[0] as string != "storage")
            throw Bad($"persistent id {Describe(pid)} is not ('storage', type, key, location, numel)");
        var type = t[1] as StorageType ?? throw Bad($"persistent id names {Describe(t[1])}, not a torch storage type");
        var key = t[2] as string ?? throw Bad("persistent id has no string key");
        long count = t[4] is long n && n >= 0 ? n : throw Bad("persistent id has no element count");
        return new StorageReference(type.DType, key, count);
    }

    private long[] Integers(object? value, string what) =>
        value is object?[] items ? items.Select(i => i is long l && l >= 0 ? l : throw Bad($"_rebuild_tensor_v2: {what} holds {Describe(i)}")).ToArray()
        : throw Bad($"_rebuild_tensor_v2: {what} is {Describe(value)}, not a tuple");

    private static long Long(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > 8) throw new InvalidDataException($"integer of {bytes.Length} bytes is too large");
        long v = 0;
        for (int i = bytes.Length - 1; i >= 0; i--) v = (v << 8) | bytes[i];
        if (bytes.Length is > 0 and < 8 && (bytes[^1] & 0x80) != 0) v -= 1L << (8 * bytes.Length); // two's complement
        return v;
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || _position + count > _data.Length) throw Bad($"truncated at byte {_position}");
        var span = _data.AsSpan(_position, count);
        _position += count;
        return span;
    }

    private string Line()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _position);
        if (end < 0) throw Bad("GLOBAL name without a newline");
        string s = Encoding.ASCII.GetString(_data, _position, end - _position);
        _position = end + 1;
        return s;
    }

    private static string Utf8(ReadOnlySpan<byte> b) => Encoding.UTF8.GetString(b);

    private static string Latin1(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);

    private void Push(object? value) => _stack.Add(value);

    private object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _marks[^1] == _stack.Count)) throw Bad("stack underflow");
        var v = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return v;
    }

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw Bad("stack underflow");

    private List<object?> PopToMark()
    {
        if (_marks.Count == 0) throw Bad("no MARK on the stack");
        int mark = _marks[^1];
        _marks.RemoveAt(_marks.Count - 1);
        var items = _stack.GetRange(mark, _stack.Count - mark);
        _stack.RemoveRange(mark, _stack.Count - mark);
        return items;
    }

    private void Memoize(long index) => _memo[index] = Peek();

    private object? Recall(long index) => _memo.TryGetValue(index, out var v) ? v : throw Bad($"memo {index} is not set");

    private T As<T>(object? value, string op) where T : class => value as T ?? throw Bad($"{op} on {Describe(value)}");

    private static string Describe(object? value) => value switch
    {
        null => "None",
        Global g => g.Callable.ToString(),
        StorageType s => $"torch storage type {s.DType}",
        string s => $"'{s}'",
        _ => value.GetType().Name,
    };

    internal InvalidDataException Bad(string problem) => new($"{_source}: pickle: {problem}");
}

/// <summary>A pickled dict or OrderedDict: keys in insertion order.</summary>
public sealed class PickleDictionary
{
    private readonly List<KeyValuePair<string, object?>> _items = [];
    private readonly Dictionary<string, int> _index = new(StringComparer.Ordinal);

    public IReadOnlyList<KeyValuePair<string, object?>> Items => _items;

    internal void Set(object? key, object? value, RestrictedUnpickler reader)
    {
        if (key is not string name) throw reader.Bad($"dictionary key of type {key?.GetType().Name ?? "None"} (state dicts have string keys)");
        if (_index.TryGetValue(name, out int i)) _items[i] = new(name, value);
        else
        {
            _index[name] = _items.Count;
            _items.Add(new(name, value));
        }
    }
}
