namespace Inkwell.Runtime.Kernels;

// Compile-time activation-row counts: the JIT specializes each kernel per struct type, dropping unused rows.
internal interface ICount { static abstract int N { get; } }
internal struct N1 : ICount { public static int N => 1; }
internal struct N2 : ICount { public static int N => 2; }
internal struct N3 : ICount { public static int N => 3; }
internal struct N4 : ICount { public static int N => 4; }
