using System.Buffers.Binary;
using System.Text;
using Inkwell.Models.Gguf;
using static Inkwell.Models.Gguf.GgufFile; // Bad(path, problem): the project's "file: problem" error

namespace Inkwell.Models.Tokenizers;

public abstract partial class Tokenizer
{
    /// <summary>
    /// A llama2.c tokenizer.bin: int32 max_token_length, then per token float32 score, int32 length and the UTF-8 bytes.
    /// The file does not store its size, so <paramref name="vocabSize"/> comes from the model header.
    /// Ids 0/1/2 are &lt;unk&gt;/&lt;s&gt;/&lt;/s&gt;; "&lt;0xAB&gt;" pieces are byte fallback; encoding adds the dummy-prefix space.
    /// </summary>
    public static Tokenizer FromLlama2cFile(string path, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 3);
        return Llama2cTokenizerLoader.Load(path, vocabSize);
    }
}

internal static class Llama2cTokenizerLoader
{
    private static readonly string[] ReservedPieces = ["<unk>", "<s>", "</s>"];

    public static Tokenizer Load(string path, int vocabSize)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        byte[] data = File.ReadAllBytes(path);
        if (data.Length < 4) throw Bad(path, $"file is {data.Length} bytes, too short for the max_token_length header");
        int maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(data);
        if (maxTokenLength <= 0) throw Bad(path, $"max_token_length {maxTokenLength} is not positive: not a llama2.c tokenizer?");

        var pieces = new string[vocabSize];
        var scores = new float[vocabSize];
        var kinds = new TokenKind[vocabSize];
        int offset = 4;
        for (int i = 0; i < vocabSize; i++)
        {
            if (data.Length - offset < 8)
                throw Bad(path, $"truncated at byte {offset}: token {i} of {vocabSize} is missing (file has {data.Length} bytes)");
            scores[i] = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(offset));
            int length = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset + 4));
            offset += 8;
            if (length < 0 || length > maxTokenLength)
                throw Bad(path, $"token {i} has length {length} (max_token_length is {maxTokenLength})");
            if (data.Length - offset < length)
                throw Bad(path, $"truncated at byte {offset}: token {i} needs {length} bytes, {data.Length - offset} remain");
            string text = Encoding.UTF8.GetString(data, offset, length);
            offset += length;

            if (i < ReservedPieces.Length)
            {
                // llama2.c writes these as "<unk>", "\n<s>\n", "\n</s>\n" for printing; the tokens are SentencePiece's.
                pieces[i] = ReservedPieces[i];
                kinds[i] = i == 0 ? TokenKind.Unknown : TokenKind.Control;
            }
            else if (Vocabulary.TryParseByteToken(text, out _))
            {
                pieces[i] = text;
                kinds[i] = TokenKind.Byte;
            }
            else
            {
                // llama2.c's export replaced SentencePiece's '▁' by ' '; restore it so pieces match the GGUF vocabulary.
                pieces[i] = text.Replace(' ', TokenBytesTable.SpaceMarker);
                kinds[i] = TokenKind.Normal;
            }
        }

        var settings = new TokenizerSettings
        {
            BosId = 1,
            EosId = 2,
            UnkId = 0,
            AddBos = true,
            AddSpacePrefix = true,
        };
        return new BpeTokenizer(new Vocabulary(pieces, kinds, scores), settings, BpeOptions.SentencePiece(addSpacePrefix: true));
    }
}
