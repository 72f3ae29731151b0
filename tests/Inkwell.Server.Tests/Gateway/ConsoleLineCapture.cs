using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>
/// What the app's console would print, without the process-wide console: each log entry formatted by the console
/// formatter the app selected (ConsoleLoggerOptions.FormatterName; the console's default "simple" when unset), with
/// the app's scopes (trace and span ids), one string per entry.
/// </summary>
public sealed class ConsoleLineCapture : ILoggerProvider, ISupportExternalScope
{
    private readonly ConsoleFormatter _formatter;
    private IExternalScopeProvider? _scopes;

    private ConsoleLineCapture(ConsoleFormatter formatter) => _formatter = formatter;

    public ConcurrentQueue<string> Lines { get; } = new();

    /// <summary>Adds the capture to an app's logging; <paramref name="created"/> gets it once the app builds it.</summary>
    public static void AddTo(IServiceCollection services, Action<ConsoleLineCapture> created) =>
        services.AddSingleton<ILoggerProvider>(sp =>
        {
            var name = sp.GetRequiredService<IOptions<ConsoleLoggerOptions>>().Value.FormatterName ?? ConsoleFormatterNames.Simple;
            var capture = new ConsoleLineCapture(sp.GetServices<ConsoleFormatter>().Single(f => f.Name == name));
            created(capture);
            return capture;
        });

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

    public void Dispose() { }

    private sealed class Logger(ConsoleLineCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => capture._scopes?.Push(state) ?? NullScope.Instance;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            using var line = new StringWriter();
            capture._formatter.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), capture._scopes, line);
            capture.Lines.Enqueue(line.ToString());
        }
    }

    private sealed class NullScope : IDisposable
    {
        public static readonly NullScope Instance = new();
        public void Dispose() { }
    }
}
