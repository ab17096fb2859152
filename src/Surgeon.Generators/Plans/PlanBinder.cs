using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Surgeon.Generators.Diagnostics;
using Surgeon.Generators.Model;

namespace Surgeon.Generators.Plans;

/// <summary>
/// The <c>BoundPlans</c> step: finds the plan's architecture, checks every job against it (layer names, channel
/// counts, indices, one job per layer) and produces the <see cref="PlanSpec"/> to emit and the plan's diagnostics.
/// Invalid jobs are reported and left out; the rest of the plan is still generated, so user code that refers to
/// <c>Layers</c> keeps compiling.
/// </summary>
internal static class PlanBinder
{
    public static PlanBindResult Bind(PlanParseResult parse, ArchitectureCatalog catalog, CompilationFacts facts, CancellationToken ct)
    {
        var diagnostics = ImmutableArray.CreateBuilder<Diagnostic>();
        diagnostics.AddRange(parse.Diagnostics);
        PlanSpec? spec = null;
        if (parse.Declaration is { } plan) spec = Bind(plan, parse.Locations, catalog, facts, diagnostics, ct);
        return new PlanBindResult(spec, diagnostics.ToEquatableArray());
    }

    private static PlanSpec? Bind(PlanDeclaration plan, PlanLocations where, ArchitectureCatalog catalog, CompilationFacts facts,
        ImmutableArray<Diagnostic>.Builder diagnostics, CancellationToken ct)
    {
        if (!facts.HasRuntimeReference)
        {
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.RuntimeNotReferenced, where.Identifier, plan.FullName));
            return null;
        }
        var modelPath = plan.ModelPath ?? "";
        var file = modelPath.Length == 0 ? null : ModelFileMatcher.Find(catalog, modelPath);
        if (file is null)
        {
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.ModelNotFound, where.ModelPath, modelPath, plan.FullName, ModelFileMatcher.ExtractedName(modelPath)));
            return null;
        }
        var fileName = ModelFileMatcher.Normalize(file.Path);
        fileName = fileName.Substring(fileName.LastIndexOf('/') + 1);
        if (file.Spec is not { } architecture)
        {
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.ArchitectureUnreadable, where.ModelPath, modelPath, fileName, file.Error ?? "unknown error"));
            return null;
        }
        if (architecture.Layers.Count == 0)
        {
            diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.ArchitectureUnreadable, where.ModelPath, modelPath, fileName, "the model has no layers"));
            return null;
        }

        var members = IdentifierNames.Assign(architecture.Layers);
        var memberOf = members.ToDictionary(m => m.Layer.Name, m => m, StringComparer.Ordinal);
        var taken = new Dictionary<string, JobKind>(StringComparer.Ordinal);
        var jobs = new List<(JobSpec Job, int Depth)>();
        for (var i = 0; i < plan.Jobs.Count; i++)
        {
            ct.ThrowIfCancellationRequested();
            var job = plan.Jobs[i];
            var at = where.Jobs[i];
            var layerName = job.Layer ?? "";
            if (!memberOf.TryGetValue(layerName, out var member))
            {
                diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.UnknownLayer, at.Layer, architecture.ModelName, layerName,
                    Suggest(layerName, architecture.Layers.Select(l => l.Name))));
                continue;
            }
            if (taken.TryGetValue(layerName, out var earlier))
            {
                diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.SeveralJobsOnLayer, at.Layer, layerName, earlier.ToString(), plan.FullName));
                continue;
            }
            taken[layerName] = job.Kind;
            var layer = member.Layer;
            if (job.Kind == JobKind.DeleteLayer)
            {
                jobs.Add((new JobSpec(JobKind.DeleteLayer, member.Identifier, layerName, EquatableArray<int>.Empty), layer.Depth));
                continue;
            }
            if (layer.ChannelCount is not { } count)
            {
                diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.LayerHasNoChannels, at.Layer, layerName, layer.ClassName));
                continue;
            }
            if (job.Channels.Count == 0)
            {
                diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.NoChannelsGiven, at.Attribute, layerName));
                continue;
            }
            var valid = true;
            var distinct = new List<int>();
            for (var c = 0; c < job.Channels.Count; c++)
            {
                var channel = job.Channels[c];
                var location = c < at.Channels.Count ? at.Channels[c] : at.Attribute;
                if (channel < 0 || channel >= count)
                {
                    diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.ChannelOutOfRange, location, channel, layerName, layer.ClassName, count, count - 1));
                    valid = false;
                }
                else if (distinct.Contains(channel))
                {
                    diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.DuplicateChannel, location, channel, layerName));
                }
                else
                {
                    distinct.Add(channel);
                }
            }
            if (!valid) continue;
            if (distinct.Count == count)
            {
                diagnostics.Add(Diagnostic.Create(DiagnosticDescriptors.DeletesEveryChannel, at.Attribute, layerName, count));
                continue;
            }
            jobs.Add((new JobSpec(JobKind.DeleteChannels, member.Identifier, layerName, distinct.ToEquatableArray()), layer.Depth));
        }

        // Deterministic order: channel deletions, then layer deletions (the order ModelSurgeon applies them), each by
        // graph depth, then ordinal layer name.
        var ordered = jobs
            .OrderBy(j => j.Job.Kind)
            .ThenBy(j => j.Depth)
            .ThenBy(j => j.Job.LayerName, StringComparer.Ordinal)
            .Select(j => j.Job);
        return new PlanSpec(
            plan.Namespace,
            plan.ContainingTypes,
            plan.Keyword,
            plan.Name,
            plan.FullName,
            modelPath,
            fileName,
            architecture.ModelName,
            architecture.ModelClass,
            architecture.KerasVersion,
            architecture.Fingerprint,
            architecture.TopologyFingerprint,
            members.ToEquatableArray(),
            ordered.ToEquatableArray());
    }

    /// <summary>" Did you mean 'x'?" for the closest layer name within a small edit distance, else "".</summary>
    internal static string Suggest(string wanted, IEnumerable<string> candidates)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in candidates)
        {
            var d = Distance(wanted, candidate);
            if (d < bestDistance || (d == bestDistance && best is not null && string.CompareOrdinal(candidate, best) < 0))
            {
                best = candidate;
                bestDistance = d;
            }
        }
        return best is not null && bestDistance <= Math.Max(2, wanted.Length / 3)
            ? string.Format(CultureInfo.InvariantCulture, ". Did you mean '{0}'?", best)
            : "";
    }

    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) previous[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }
            (previous, current) = (current, previous);
        }
        return previous[b.Length];
    }
}
