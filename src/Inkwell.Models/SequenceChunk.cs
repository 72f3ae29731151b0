namespace Inkwell.Models;

/// <summary>Which rows of a chunk need logits.</summary>
public enum LogitsWanted
{
    None,
    Last,
    All,
}

/// <summary>
/// One sequence's share of a forward pass: its new tokens, the position of the first one, and its KV block table
/// (block ids in position order, covering every position up to StartPosition + Count). Prefill is a chunk of many
/// tokens, decode a chunk of one: the same call. <see cref="Adapter"/> is the LoRA adapter slot its rows run with
/// (0 = the base model; see <see cref="Lora.LoraAdapterSet"/>).
/// </summary>
public readonly record struct SequenceChunk(
    ReadOnlyMemory<int> Tokens,
    int StartPosition,
    ReadOnlyMemory<int> BlockTable,
    LogitsWanted Logits = LogitsWanted.Last,
    ReadOnlyMemory<float> InputEmbeddings = default,
    int Adapter = 0)
{
    public int Count => Tokens.Length;
    public int LogitRows => Logits switch { LogitsWanted.None => 0, LogitsWanted.Last => Count > 0 ? 1 : 0, _ => Count };
}
