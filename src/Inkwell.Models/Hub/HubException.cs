namespace Inkwell.Models.Hub;

/// <summary>The Hub refused or could not serve a request, or the cache cannot answer offline; the message says
/// what to do. An IOException, so every command reports it as one line.</summary>
public class HubException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>Downloaded bytes do not match the size or hash the Hub announced.</summary>
public sealed class HubIntegrityException(string message) : HubException(message);
