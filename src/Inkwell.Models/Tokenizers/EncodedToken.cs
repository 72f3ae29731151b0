namespace Inkwell.Models.Tokenizers;

/// <summary>One token of an encoding with the character range [Start, End) of the input it came from.</summary>
public readonly record struct EncodedToken(int Id, int Start, int End);
