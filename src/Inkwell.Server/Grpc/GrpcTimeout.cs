namespace Inkwell.Server.Grpc;

/// <summary>Parses the grpc-timeout header: "TimeoutValue TimeoutUnit", at most 8 ASCII digits then one of H M S m u n.</summary>
public static class GrpcTimeout
{
    private const int MaxDigits = 8;

    public static bool TryParse(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (value is null || value.Length < 2 || value.Length > MaxDigits + 1) return false;

        long amount = 0;
        foreach (char digit in value.AsSpan(0, value.Length - 1))
        {
            if (!char.IsAsciiDigit(digit)) return false;
            amount = amount * 10 + (digit - '0');
        }

        long? ticks = value[^1] switch
        {
            'H' => amount * TimeSpan.TicksPerHour,
            'M' => amount * TimeSpan.TicksPerMinute,
            'S' => amount * TimeSpan.TicksPerSecond,
            'm' => amount * TimeSpan.TicksPerMillisecond,
            'u' => amount * TimeSpan.TicksPerMicrosecond,
            // A tick is 100 ns; round up so a tiny positive timeout does not become "no time at all".
            'n' => (amount + 99) / 100,
            _ => null,
        };
        if (ticks is null) return false;
        timeout = TimeSpan.FromTicks(ticks.Value);
        return true;
    }
}
