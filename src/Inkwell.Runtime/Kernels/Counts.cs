namespace Inkwell.Runtime.Kernels;

// Compile-time counts (activation rows of a tile, vectors of a micro-kernel): the JIT specializes each kernel per
// struct type and drops the unused rows and accumulators. One set for every kernel in this folder.
internal interface ICount { static abstract int N { get; } }
internal struct N1 : ICount { public static int N => 1; }
internal struct N2 : ICount { public static int N => 2; }
internal struct N3 : ICount { public static int N => 3; }
internal struct N4 : ICount { public static int N => 4; }
internal struct N5 : ICount { public static int N => 5; }
internal struct N6 : ICount { public static int N => 6; }
internal struct N7 : ICount { public static int N => 7; }
internal struct N8 : ICount { public static int N => 8; }
