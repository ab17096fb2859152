using System.CommandLine;
using Surgeon.Cli.Commands;

namespace Surgeon.Cli;

/// <summary>Exit codes of the <c>surgeon</c> command.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;
    /// <summary>An unexpected failure (a bug): the message says so; <c>--verbose</c> prints the stack trace.</summary>
    public const int InternalError = 1;
    /// <summary>The input is at fault: a missing, corrupt or inconsistent model file, a wrong layer name.</summary>
    public const int BadInput = 2;
    /// <summary>The command line could not be parsed.</summary>
    public const int Usage = 3;
    /// <summary>A --verify check failed; nothing was written.</summary>
    public const int VerificationFailed = 4;
}

/// <summary>The <c>surgeon</c> command line: a thin shell over Surgeon.Runtime's public API.</summary>
public static class CliApp
{
    internal static readonly Option<bool> Verbose = new("--verbose", "-v")
    {
        Description = "Print stack traces with errors.",
        Recursive = true,
    };

    /// <summary>Runs the command line with the given arguments and output writers; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand("Surgeon: network surgery on trained Keras models.")
        {
            SummaryCommand.Create(stdout),
            ConvertCommand.Create(stdout),
            RoundTripCommand.Create(stdout),
            PredictCommand.Create(stdout),
            ApozCommand.Create(stdout),
            DeleteChannelsCommand.Create(stdout),
            DeleteLayerCommand.Create(stdout),
            EditLayerCommands.Insert(stdout),
            EditLayerCommands.Replace(stdout),
        };
        root.Options.Add(Verbose);
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) stderr.WriteLine($"error: {e.Message}");
            stderr.WriteLine("Run 'surgeon --help' for usage.");
            return ExitCodes.Usage;
        }
        var verbose = parse.GetValue(Verbose);
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (SurgeonException e)
        {
            stderr.WriteLine($"error: {e.Message}");
            if (verbose) stderr.WriteLine(e);
            return ExitCodes.BadInput;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or KeyNotFoundException or ArgumentException)
        {
            stderr.WriteLine($"error: {e.Message}");
            if (verbose) stderr.WriteLine(e);
            return ExitCodes.BadInput;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"error: internal error ({e.GetType().Name}): {e.Message}");
            if (verbose) stderr.WriteLine(e);
            else stderr.WriteLine("Run again with --verbose for the stack trace, and please report it.");
            return ExitCodes.InternalError;
        }
    }
}
