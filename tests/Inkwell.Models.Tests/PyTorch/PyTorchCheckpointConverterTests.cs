using System.Text;
using System.Text.Json;
using Inkwell.Models.Loading;
using Inkwell.Models.PyTorch;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.PyTorch;

/// <summary>
/// Checkpoints written by a real torch.save (tests/fixtures/make-torch-bin.py, Debian's python3-torch) converted to
/// safetensors and compared with the bytes numpy wrote from each tensor's contiguous copy (expected.json).
/// </summary>
public sealed class PyTorchCheckpointConverterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-pt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CopyCase(string name)
    {
        string source = RepoPaths.InRoot("tests", "fixtures", "pytorch", name);
        string target = Path.Combine(_dir, name);
        foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
        {
            string to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
        return target;
    }

    [Theory]
    [InlineData("single")]
    [InlineData("sharded")]
    public void Converted_tensors_equal_the_originals(string name)
    {
        string dir = CopyCase(name);
        var written = PyTorchCheckpointConverter.ConvertDirectory(dir);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "expected.json")));
        var actual = new Dictionary<string, (string DType, long[] Shape, byte[] Bytes, string File)>();
        foreach (var path in written.Where(p => p.EndsWith(".safetensors", StringComparison.Ordinal)))
            foreach (var (tensor, value) in ReadSafeTensors(path)) actual[tensor] = (value.DType, value.Shape, value.Bytes, Path.GetFileName(path));

        var expected = manifest.RootElement.GetProperty("tensors").EnumerateObject().ToList();
        Assert.Equal(expected.Select(e => e.Name).Order(), actual.Keys.Order());
        foreach (var e in expected)
        {
            var got = actual[e.Name];
            Assert.Equal(e.Value.GetProperty("dtype").GetString(), got.DType);
            Assert.Equal(e.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()), got.Shape);
            Assert.True(File.ReadAllBytes(Path.Combine(dir, e.Value.GetProperty("file").GetString()!)).AsSpan().SequenceEqual(got.Bytes), $"{name}: '{e.Name}' bytes differ");
            Assert.Equal(PyTorchCheckpointConverter.SafeTensorsName(e.Value.GetProperty("shard").GetString()!), got.File);
        }
        foreach (var tied in manifest.RootElement.GetProperty("dropped_as_tied").EnumerateArray()) Assert.DoesNotContain(tied.GetString()!, actual.Keys);
    }

    [Fact]
    public void Shards_get_transformers_names_and_an_index()
    {
        string dir = CopyCase("sharded");
        Assert.True(PyTorchCheckpointConverter.NeedsConversion(dir));
        var written = PyTorchCheckpointConverter.ConvertDirectory(dir);
        Assert.Equal(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"], written.Select(Path.GetFileName));
        using var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "model.safetensors.index.json")));
        var map = index.RootElement.GetProperty("weight_map");
        Assert.Equal("model-00002-of-00002.safetensors", map.GetProperty("model.norm.weight").GetString());
        Assert.Equal("model-00001-of-00002.safetensors", map.GetProperty("model.embed_tokens.weight").GetString());
        Assert.Equal(8 * 4 * 4 + 16 * 2 + 16 * 2 + 4 * 4, index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64());
        Assert.False(PyTorchCheckpointConverter.NeedsConversion(dir));
        Assert.Throws<IOException>(() => PyTorchCheckpointConverter.ConvertDirectory(dir)); // never overwrites
    }

    [Fact]
    public void A_pickle_that_runs_a_command_is_refused_and_the_command_never_runs()
    {
        string dir = CopyCase("malicious");
        string marker = File.ReadAllText(Path.Combine(dir, "marker.txt")).Trim();
        if (File.Exists(marker)) File.Delete(marker);
        var e = Assert.Throws<InvalidDataException>(() => PyTorchCheckpointConverter.ConvertDirectory(dir));
        Assert.Contains("refusing global posix.system", e.Message);
        Assert.False(File.Exists(marker), "the pickle's command ran");
        Assert.Empty(Directory.GetFiles(dir, "*.safetensors*"));
    }

    [Theory]
    [InlineData("cbuiltins\neval\n(X\u0004\u0000\u0000\u00001+1tR.", "refusing global builtins.eval")]                    // GLOBAL + REDUCE
    [InlineData("\u0080\u0002X\u0002\u0000\u0000\u0000osX\u0006\u0000\u0000\u0000system\u0093.", "refusing global os.system")] // STACK_GLOBAL
    [InlineData("ccollections\nOrderedDict\n)\u0081.", "opcode 0x81")]                                                    // NEWOBJ
    [InlineData("(X\u0001\u0000\u0000\u0000at)R.", "REDUCE on ")]                                                        // REDUCE on a non-callable
    [InlineData("(i__main__\nEvil\n.", "opcode 0x69")]                                                                    // INST
    [InlineData("}X\u0001\u0000\u0000\u0000a", "ends without a STOP")]
    public void The_reader_refuses_everything_a_state_dict_does_not_need(string pickle, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => RestrictedUnpickler.Load(Encoding.Latin1.GetBytes(pickle), "test.pkl"));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Non_zip_and_legacy_checkpoints_are_clear_errors()
    {
        string dir = Path.Combine(_dir, "legacy");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46]);
        Assert.Contains("legacy", Assert.Throws<InvalidDataException>(() => PyTorchCheckpointConverter.ConvertDirectory(dir)).Message);
        File.WriteAllText(Path.Combine(dir, "pytorch_model.bin"), "hello");
        Assert.Contains("not a PyTorch checkpoint", Assert.Throws<InvalidDataException>(() => PyTorchCheckpointConverter.ConvertDirectory(dir)).Message);
        Assert.Throws<FileNotFoundException>(() => PyTorchCheckpointConverter.ConvertDirectory(_dir));
    }

    [Fact]
    public void Converted_float_tensors_load_through_the_safetensors_reader()
    {
        string dir = CopyCase("single");
        PyTorchCheckpointConverter.ConvertDirectory(dir);
        using var file = SafeTensors.SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors"));
        var transposed = file.Matrix("transposed", 8, 6);
        var row = new float[6];
        Runtime.Kernels.MatMul.DequantizeRow(transposed, 1, row);
        var expected = File.ReadAllBytes(Path.Combine(dir, "expected", "transposed.bin"));
        Assert.Equal(BitConverter.ToSingle(expected, 6 * 4), row[0]);
        Assert.Equal(BitConverter.ToSingle(expected, 11 * 4), row[5]);
    }

    /// <summary>A safetensors file read independently of the product's reader: header JSON and raw bytes.</summary>
    private static Dictionary<string, (string DType, long[] Shape, byte[] Bytes)> ReadSafeTensors(string path)
    {
        var all = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(all, 0);
        Assert.Equal(0, (8 + headerLength) % 8);
        using var header = JsonDocument.Parse(all.AsMemory(8, (int)headerLength));
        var result = new Dictionary<string, (string, long[], byte[])>();
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__") continue;
            var offsets = entry.Value.GetProperty("data_offsets");
            long begin = 8 + headerLength + offsets[0].GetInt64(), end = 8 + headerLength + offsets[1].GetInt64();
            result[entry.Name] = (entry.Value.GetProperty("dtype").GetString()!, entry.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
                all.AsSpan((int)begin, (int)(end - begin)).ToArray());
        }
        return result;
    }
}
