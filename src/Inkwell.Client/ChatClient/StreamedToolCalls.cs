using System.Text;
using Inkwell.Client.OpenAI;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.ChatClient;

/// <summary>
/// Assembles streamed tool-call pieces (delta.tool_calls: the first piece of an index brings id and name, later ones
/// argument fragments) into whole FunctionCallContents. A call is complete when a piece of another index arrives (calls
/// stream one after another) or the choice finishes; whatever is open when the stream ends is completed then.
/// </summary>
internal sealed class StreamedToolCalls
{
    private PendingCall? _open;

    /// <summary>Takes one chunk's pieces and finish reason; returns the calls this chunk completed.</summary>
    public List<FunctionCallContent> Add(IReadOnlyList<ChatCompletionToolCallDelta>? pieces, bool finished)
    {
        var completed = new List<FunctionCallContent>();
        foreach (var piece in pieces ?? [])
        {
            if (_open is not null && _open.Index != piece.Index) completed.Add(Complete());
            _open ??= new PendingCall(piece.Index);
            _open.CallId ??= piece.Id;
            _open.Name ??= piece.Function?.Name;
            _open.Arguments.Append(piece.Function?.Arguments);
        }
        if (finished && _open is not null) completed.Add(Complete());
        return completed;
    }

    /// <summary>The call still open when the stream ended without a finish reason, if any.</summary>
    public FunctionCallContent? Flush() => _open is null ? null : Complete();

    private FunctionCallContent Complete()
    {
        var call = _open!;
        _open = null;
        return FunctionCallJson.ToCallContent(call.CallId ?? "", call.Name ?? "", call.Arguments.ToString());
    }

    private sealed class PendingCall(int index)
    {
        public int Index { get; } = index;
        public string? CallId { get; set; }
        public string? Name { get; set; }
        public StringBuilder Arguments { get; } = new();
    }
}
