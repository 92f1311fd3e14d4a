class P { static void Main(string[] a) => BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(P).Assembly).Run(a); }
