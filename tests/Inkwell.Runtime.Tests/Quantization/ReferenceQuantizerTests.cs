using System.Runtime.InteropServices;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;
using Inkwell.TestSupport;

namespace Inkwell.Runtime.Tests.Quantization;

/// <summary>
/// Our encoders against ggml's own: tests/fixtures/ggml-quants holds float rows (with zero, constant, tiny,
/// outlier and tie-heavy blocks) and the bytes ggml_quantize_chunk of the llama.cpp peer made from them
/// (tests/fixtures/make-ggml-quant-rows.py), the call llama-quantize makes without an importance matrix.
/// </summary>
public sealed class ReferenceQuantizerTests
{
    private static readonly string Fixtures = RepoPaths.InRoot("tests", "fixtures", "ggml-quants");
    private const int Rows = 8, Cols = 512;

    private static float[] Input() => MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(Fixtures, "rows.f32"))).ToArray();

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    public void Rows_encode_to_the_bytes_ggml_writes(GgmlType type)
    {
        var input = Input();
        Assert.Equal(Rows * Cols, input.Length);
        var expected = File.ReadAllBytes(Path.Combine(Fixtures, type + ".bin"));
        long rowBytes = GgmlTypeInfo.ByteCount(type, Cols);
        var actual = new byte[Rows * rowBytes];
        for (int r = 0; r < Rows; r++)
            ReferenceQuantizer.QuantizeRow(type, input.AsSpan(r * Cols, Cols), actual.AsSpan((int)(r * rowBytes), (int)rowBytes));
        int firstDifference = Enumerable.Range(0, expected.Length).FirstOrDefault(i => expected[i] != actual[i], -1);
        Assert.True(firstDifference < 0, $"{type}: first differing byte {firstDifference} (row {firstDifference / rowBytes}, byte {firstDifference % rowBytes} of the row)");
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    public unsafe void Whole_matrices_encode_like_rows_and_decode_close_to_the_input(GgmlType type)
    {
        var input = Input();
        var source = WeightMatrix.FromF32("w", input, Rows, Cols);
        var quantized = MatrixQuantizer.Quantize(source, type);
        Assert.Equal(type, quantized.Type);
        var expected = File.ReadAllBytes(Path.Combine(Fixtures, type + ".bin"));
        Assert.True(new ReadOnlySpan<byte>(quantized.Data, (int)quantized.TotalBytes).SequenceEqual(expected));
        var decoded = new float[Cols];
        MatMul.DequantizeRow(quantized, 0, decoded);
        for (int i = 0; i < Cols; i++) Assert.InRange(decoded[i] - input[i], -0.2f, 0.2f);
    }

    [Fact]
    public void Types_without_an_encoder_and_partial_blocks_are_refused()
    {
        var row = new float[256];
        var e = Assert.Throws<NotSupportedException>(() => ReferenceQuantizer.QuantizeRow(GgmlType.Q5_K, row, new byte[176]));
        Assert.Contains("Q4_K", e.Message);
        Assert.Throws<InvalidDataException>(() => ReferenceQuantizer.QuantizeRow(GgmlType.Q8_0, new float[40], new byte[100]));
        Assert.Throws<ArgumentException>(() => ReferenceQuantizer.QuantizeRow(GgmlType.Q8_0, new float[32], new byte[10]));
    }

    [Theory]
    [InlineData("q8_0", GgmlType.Q8_0)]
    [InlineData("Q4_0", GgmlType.Q4_0)]
    [InlineData("q4_k", GgmlType.Q4_K)]
    [InlineData("q4_k_m", GgmlType.Q4_K)]
    [InlineData("q6_k", GgmlType.Q6_K)]
    public void Scheme_names_parse(string name, GgmlType type) => Assert.Equal(type, QuantizationScheme.Parse(name).DefaultType);

    [Theory]
    [InlineData("bitsandbytes")]
    [InlineData("gptq")]
    [InlineData("awq")]
    [InlineData("eetq")]
    [InlineData("fp8")]
    [InlineData("marlin")]
    public void Other_servers_methods_are_refused_naming_ours(string name)
    {
        var e = Assert.Throws<NotSupportedException>(() => QuantizationScheme.Parse(name));
        Assert.Contains("q8_0, q4_0, q4_k, q6_k", e.Message);
    }

    [Fact]
    public void Unknown_names_are_refused() => Assert.Throws<ArgumentException>(() => QuantizationScheme.Parse("q3_z"));
}
