using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Gguf;

/// <summary>
/// `inkwell quantize IN OUT TYPE`: a GGUF file re-encoded as llama-quantize does it without an importance matrix.
/// The metadata is copied as it is, then general.quantization_version (2) and general.file_type are set (moved to
/// the end, as gguf_set_val does) and split keys dropped; tensors are written in llama.cpp's loader order, as
/// llama-quantize writes them, each either copied or re-encoded by <see cref="TensorTypePlan"/>.
/// </summary>
public static class GgufQuantizer
{
    private const uint QuantizationVersion = 2; // GGML_QNT_VERSION

    /// <summary>Writes <paramref name="outputPath"/>; returns the plan it followed (tensor name to encoding).</summary>
    public static TensorTypePlan Quantize(string inputPath, string outputPath, QuantizationScheme scheme, Action<string>? log = null)
    {
        if (Path.GetFullPath(inputPath) == Path.GetFullPath(outputPath))
            throw new ArgumentException($"{outputPath}: the output must not overwrite the input");
        using var input = GgufFile.Open(inputPath);
        string arch = input.Get<string>("general.architecture");
        var plan = new TensorTypePlan(scheme,
            input.Tensors.Select(t => new PlannedTensor(t.Name, t.Dimensions, t.Type)),
            input.GetOrDefault($"{arch}.block_count", 0), input.GetOrDefault($"{arch}.expert_count", 0), arch);

        var writer = new GgufWriter();
        writer.CopyMetadataFrom(inputPath);
        writer.SetUInt32("general.quantization_version", QuantizationVersion);
        writer.SetUInt32("general.file_type", scheme.FileType);
        foreach (var key in new[] { "split.no", "split.count", "split.tensors.count" }) writer.Remove(key);

        foreach (var tensor in input.Tensors.OrderBy(t => t.Name, LlamaCppTensorOrder.Instance))
        {
            var target = plan.TargetOf(tensor.Name);
            var info = tensor;
            writer.AddTensor(tensor.Name, tensor.Dimensions, target, stream =>
            {
                if (target == info.Type) CopyData(input, info, stream);
                else Encode(input, info, target, stream);
                log?.Invoke($"{info.Name,-40} {info.Type,-5} -> {target}");
            });
        }
        writer.Write(outputPath);
        return plan;
    }

    private static unsafe void CopyData(GgufFile input, GgufTensorInfo tensor, Stream destination)
    {
        byte* data = input.TensorData(tensor);
        for (long done = 0; done < tensor.ByteCount;)
        {
            int n = (int)Math.Min(1 << 30, tensor.ByteCount - done);
            destination.Write(new ReadOnlySpan<byte>(data + done, n));
            done += n;
        }
    }

    /// <summary>Re-encodes a tensor's rows (all ne[1] * ne[2] * ne[3] of them) in slabs that keep the buffer small.</summary>
    private static unsafe void Encode(GgufFile input, GgufTensorInfo tensor, GgmlType target, Stream destination)
    {
        int cols = checked((int)tensor.Dimensions[0]);
        int rows = checked((int)(tensor.ElementCount / cols));
        var source = new WeightMatrix(tensor.Name, tensor.Type, rows, cols, input.TensorData(tensor), input);
        long rowBytes = GgmlTypeInfo.ByteCount(target, cols);
        int slabRows = (int)Math.Clamp((64L << 20) / rowBytes, 1, rows);
        var buffer = new byte[slabRows * rowBytes];
        for (int start = 0; start < rows; start += slabRows)
        {
            int count = Math.Min(slabRows, rows - start);
            MatrixQuantizer.QuantizeRows(source, target, buffer, start, count);
            destination.Write(buffer, 0, checked((int)(count * rowBytes)));
        }
    }
}
