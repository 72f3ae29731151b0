namespace Inkwell.Templates;

// The syntax tree. Every node keeps the source offset it came from so runtime errors can name a line and column.

internal abstract record Node(int Offset);

// ---- expressions ----

internal abstract record Expr(int Offset) : Node(Offset);

internal sealed record LiteralExpr(int Offset, object? Value) : Expr(Offset);

internal sealed record NameExpr(int Offset, string Name) : Expr(Offset);

internal sealed record ListExpr(int Offset, IReadOnlyList<Expr> Items, bool IsTuple) : Expr(Offset);

internal sealed record DictExpr(int Offset, IReadOnlyList<(Expr Key, Expr Value)> Entries) : Expr(Offset);

internal sealed record AttributeExpr(int Offset, Expr Target, string Attribute) : Expr(Offset);

internal sealed record IndexExpr(int Offset, Expr Target, Expr Index) : Expr(Offset);

internal sealed record SliceExpr(int Offset, Expr Target, Expr? Start, Expr? Stop, Expr? Step) : Expr(Offset);

internal sealed record Arguments(IReadOnlyList<Expr> Positional, IReadOnlyList<(string Name, Expr Value)> Named)
{
    public static Arguments None { get; } = new([], []);
}

internal sealed record CallExpr(int Offset, Expr Callee, Arguments Arguments) : Expr(Offset);

/// <summary><c>operand | name(args)</c>; Operand is null inside a {% filter %} block header.</summary>
internal sealed record FilterExpr(int Offset, Expr? Operand, string Name, Arguments Arguments) : Expr(Offset);

/// <summary><c>operand is [not] name(args)</c>.</summary>
internal sealed record TestExpr(int Offset, Expr Operand, string Name, Arguments Arguments, bool Negated) : Expr(Offset);

internal enum UnaryOperator { Not, Negate, Plus }

internal sealed record UnaryExpr(int Offset, UnaryOperator Operator, Expr Operand) : Expr(Offset);

internal enum BinaryOperator
{
    And, Or,
    Add, Subtract, Multiply, Divide, FloorDivide, Modulo, Power, Concat,
    Equal, NotEqual, Less, LessOrEqual, Greater, GreaterOrEqual, In, NotIn,
}

internal sealed record BinaryExpr(int Offset, BinaryOperator Operator, Expr Left, Expr Right) : Expr(Offset);

/// <summary><c>then if condition else otherwise</c>; a missing else yields undefined, as in Jinja.</summary>
internal sealed record ConditionalExpr(int Offset, Expr Condition, Expr Then, Expr? Otherwise) : Expr(Offset);

// ---- statements ----

internal abstract record Stmt(int Offset) : Node(Offset);

internal sealed record TextStmt(int Offset, string Text) : Stmt(Offset);

internal sealed record OutputStmt(int Offset, Expr Value) : Stmt(Offset);

internal sealed record IfStmt(int Offset, IReadOnlyList<(Expr Condition, IReadOnlyList<Stmt> Body)> Branches, IReadOnlyList<Stmt>? ElseBody) : Stmt(Offset);

internal sealed record ForStmt(
    int Offset,
    IReadOnlyList<string> Targets,
    Expr Iterable,
    Expr? Filter,
    IReadOnlyList<Stmt> Body,
    IReadOnlyList<Stmt>? ElseBody,
    bool Recursive) : Stmt(Offset);

/// <summary>A place a value can be stored: plain names (several for unpacking) or a namespace attribute.</summary>
internal sealed record AssignTarget(IReadOnlyList<string> Names, string? NamespaceAttribute)
{
    public bool IsNamespaceAttribute => NamespaceAttribute is not null;
}

internal sealed record SetStmt(int Offset, AssignTarget Target, Expr Value) : Stmt(Offset);

/// <summary><c>{% set name | filters %}body{% endset %}</c>.</summary>
internal sealed record SetBlockStmt(int Offset, AssignTarget Target, IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Stmt> Body) : Stmt(Offset);

internal sealed record MacroParameter(string Name, Expr? Default);

internal sealed record MacroStmt(int Offset, string Name, IReadOnlyList<MacroParameter> Parameters, IReadOnlyList<Stmt> Body) : Stmt(Offset);

/// <summary><c>{% call(params) macro(args) %}body{% endcall %}</c>: the body is passed to the macro as caller().</summary>
internal sealed record CallBlockStmt(int Offset, CallExpr Call, IReadOnlyList<MacroParameter> CallerParameters, IReadOnlyList<Stmt> Body) : Stmt(Offset);

internal sealed record FilterBlockStmt(int Offset, IReadOnlyList<FilterExpr> Filters, IReadOnlyList<Stmt> Body) : Stmt(Offset);

internal sealed record WithStmt(int Offset, IReadOnlyList<(string Name, Expr Value)> Assignments, IReadOnlyList<Stmt> Body) : Stmt(Offset);

internal sealed record DoStmt(int Offset, Expr Value) : Stmt(Offset);

internal sealed record BreakStmt(int Offset) : Stmt(Offset);

internal sealed record ContinueStmt(int Offset) : Stmt(Offset);

/// <summary>Hugging Face's {% generation %} marker (assistant-token masks): rendered as its body.</summary>
internal sealed record GenerationStmt(int Offset, IReadOnlyList<Stmt> Body) : Stmt(Offset);
