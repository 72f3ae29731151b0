namespace Inkwell.Models.Tokenizers;

/// <summary>What a vocabulary entry is. Numbered as GGUF's tokenizer.ggml.token_type so values read straight across.</summary>
public enum TokenKind : byte
{
    Normal = 1,
    /// <summary>The unknown-token placeholder (e.g. &lt;unk&gt;).</summary>
    Unknown = 2,
    /// <summary>Control tokens (&lt;s&gt;, &lt;|im_end|&gt;): never produced from plain text unless special tokens are parsed.</summary>
    Control = 3,
    /// <summary>Added tokens that are always matched as a unit in text and decode to their literal text.</summary>
    UserDefined = 4,
    Unused = 5,
    /// <summary>Byte-fallback tokens &lt;0xAB&gt; standing for one raw byte.</summary>
    Byte = 6,
}
