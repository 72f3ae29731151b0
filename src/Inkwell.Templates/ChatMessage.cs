namespace Inkwell.Templates;

/// <summary>One turn of a conversation, as a chat template sees it (<c>message.role</c>, <c>message.content</c>).</summary>
public sealed record ChatMessage(string Role, string Content);
