using System.Diagnostics;

namespace Surgeon.Runtime.Tests.Infrastructure;

/// <summary>Runs <c>h5dump</c> (Debian hdf5-tools, the reference HDF5 library) on a file we wrote.</summary>
public static class H5Dump
{
    private static readonly string? s_path = new[] { "/usr/bin/h5dump", "/usr/local/bin/h5dump" }.FirstOrDefault(File.Exists);

    /// <summary>Asserts h5dump reads the whole file (structure, attributes and data) without error; returns its output.</summary>
    public static string AssertReadable(string file, params string[] extraArgs)
    {
        if (s_path is null)
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException("h5dump (Debian package hdf5-tools) is required under CI; the set-up script installs it.");
            Skip.If(true, "h5dump is not installed (apt-get install hdf5-tools).");
        }
        var psi = new ProcessStartInfo(s_path!) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in extraArgs) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add(file);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0 && stderr.Length == 0, $"h5dump failed on {file} (exit {p.ExitCode}): {stderr}");
        return stdout.Result;
    }
}
