using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Router.EndToEnd.Tests")]
