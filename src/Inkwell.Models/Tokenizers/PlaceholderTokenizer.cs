namespace Inkwell.Models.Tokenizers;

/// <summary>
/// The vocabulary of a model that has no real tokenizer: llama.cpp's test models (test-llama-archs writes
/// tokenizer.ggml.model "test" with pieces "tok_0", "tok_1", ...). Ids, vocabulary size and special ids work, so the
/// model can run from token ids; encoding or decoding text throws <see cref="NotSupportedException"/> with the reason.
/// </summary>
/// <remarks>llama.cpp itself hashes 5-byte chunks to ids and prints ids as hex for this type: test scaffolding, not text.</remarks>
internal sealed class PlaceholderTokenizer(Vocabulary vocabulary, TokenizerSettings settings, string source)
    : Tokenizer(vocabulary, settings, PieceDecoding.SpaceMarker)
{
    public override bool IsPlaceholder => true;

    private NotSupportedException NoText() => new(
        $"{source}: tokenizer.ggml.model is 'test', llama.cpp's placeholder vocabulary: this model has no real tokenizer, " +
        "so text cannot be encoded or decoded; run it from token ids instead (inkwell logits --model PATH --tokens 1,2,3)");

    public override void RequireText() => throw NoText();

    private protected override ITextEncoder CreateTextEncoder() => throw NoText();
}
