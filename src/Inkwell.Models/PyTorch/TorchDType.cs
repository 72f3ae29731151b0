namespace Inkwell.Models.PyTorch;

/// <summary>Element types of PyTorch storages that a state dict holds, with their safetensors names.</summary>
public enum TorchDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool }

public static class TorchDTypes
{
    /// <summary>The dtype of a legacy typed-storage class name (torch.FloatStorage, ...), or null for any other name.</summary>
    public static TorchDType? FromStorageName(string name) => name switch
    {
        "DoubleStorage" => TorchDType.F64,
        "FloatStorage" => TorchDType.F32,
        "HalfStorage" => TorchDType.F16,
        "BFloat16Storage" => TorchDType.BF16,
        "LongStorage" => TorchDType.I64,
        "IntStorage" => TorchDType.I32,
        "ShortStorage" => TorchDType.I16,
        "CharStorage" => TorchDType.I8,
        "ByteStorage" => TorchDType.U8,
        "BoolStorage" => TorchDType.Bool,
        _ => null,
    };

    public static int ElementBytes(TorchDType t) => t switch
    {
        TorchDType.F64 or TorchDType.I64 => 8,
        TorchDType.F32 or TorchDType.I32 => 4,
        TorchDType.F16 or TorchDType.BF16 or TorchDType.I16 => 2,
        _ => 1,
    };

    /// <summary>The dtype string safetensors writes.</summary>
    public static string SafeTensorsName(TorchDType t) => t switch
    {
        TorchDType.Bool => "BOOL",
        _ => t.ToString().ToUpperInvariant(),
    };
}
