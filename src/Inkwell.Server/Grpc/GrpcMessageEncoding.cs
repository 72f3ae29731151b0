using System.Text;

namespace Inkwell.Server.Grpc;

/// <summary>
/// The spec's percent-encoding for grpc-message: UTF-8 bytes outside 0x20..0x7E, and '%' itself, become %XX,
/// so any text survives an HTTP/2 header.
/// </summary>
public static class GrpcMessageEncoding
{
    public static string PercentEncode(string message)
    {
        if (!NeedsEncoding(message)) return message;

        var builder = new StringBuilder(message.Length * 3 / 2);
        foreach (byte b in Encoding.UTF8.GetBytes(message))
        {
            if (IsUnreserved(b)) builder.Append((char)b);
            else builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
        }
        return builder.ToString();
    }

    /// <summary>The inverse; malformed escapes pass through as written, as the spec asks of receivers.</summary>
    public static string PercentDecode(string encoded)
    {
        if (!encoded.Contains('%')) return encoded;

        var bytes = new List<byte>(encoded.Length);
        for (int i = 0; i < encoded.Length; i++)
        {
            if (encoded[i] == '%' && i + 2 < encoded.Length
                && byte.TryParse(encoded.AsSpan(i + 1, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(encoded[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool NeedsEncoding(string message)
    {
        foreach (char c in message)
        {
            if (c > 0x7E || !IsUnreserved((byte)c)) return true;
        }
        return false;
    }

    private static bool IsUnreserved(byte b) => b is >= 0x20 and <= 0x7E and not (byte)'%';
}
