namespace Inkwell.Models.Tokenizers;

/// <summary>Collects encoded ids and, when asked, their character ranges.</summary>
internal sealed class EncodeSink(bool withOffsets)
{
    public List<int> Ids { get; } = [];
    public List<EncodedToken>? Tokens { get; } = withOffsets ? [] : null;

    public void Add(int id, int start, int end)
    {
        Ids.Add(id);
        Tokens?.Add(new EncodedToken(id, start, end));
    }
}

/// <summary>Encodes text[start..end), which holds no special tokens. One per encode call: not thread-safe.</summary>
internal interface ITextEncoder
{
    void Encode(string text, int start, int end, EncodeSink sink);
}
