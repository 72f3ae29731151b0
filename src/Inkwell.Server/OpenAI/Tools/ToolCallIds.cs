using System.Security.Cryptography;

namespace Inkwell.Server.OpenAI.Tools;

/// <summary>
/// Ids for the calls a response hands out: OpenAI's shape ("call_" and 24 letters and digits), or 9 letters and digits
/// for templates that accept nothing else (Mistral's, as vLLM's mistral parser does), so a client can send the call
/// back in the next request.
/// </summary>
public static class ToolCallIds
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    public static string New(bool nineCharacters) => nineCharacters ? RandomNumberGenerator.GetString(Alphabet, 9) : "call_" + RandomNumberGenerator.GetString(Alphabet, 24);
}
