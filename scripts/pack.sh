#!/usr/bin/env bash
# Packs the CLI as a .NET tool (package and command `inkwell`) and Inkwell.Client (with its README) into a folder.
#   scripts/pack.sh [--out DIR (artifacts/packages)] [--version V (0.1.0)] [--no-build] [--smoke]
# --smoke (CI, from ./test): pack under a unique version into a temporary folder, then use only that folder as a user
# would: `dotnet tool install inkwell` into a tool path, run `inkwell --help` and a greedy generation on the embedded
# model; create a console project that restores Inkwell.Client from it, builds and runs. The unique version keeps
# NuGet's global cache from answering with an older package of the same version; it is removed from that cache after.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/artifacts/packages"
version=0.1.0
build=()
smoke=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) out=$(realpath -m "$2"); shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --no-build) build=(--no-build); shift ;;
    --smoke) smoke=true; shift ;;
    *) echo "pack.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

work=""
if $smoke; then
  work=$(mktemp -d /tmp/inkwell-pack-smoke.XXXXXX)
  out="$work/packages"
  version="0.1.0-smoke.$(date +%s).$$"
  packages_cache=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')
  cleanup() {
    rm -rf "$work" "$packages_cache/inkwell/$version" "$packages_cache/inkwell.client/$version"
    rmdir "$packages_cache/inkwell" "$packages_cache/inkwell.client" 2>/dev/null || true
  }
  trap cleanup EXIT
fi

for project in src/Inkwell.Cli/Inkwell.Cli.csproj src/Inkwell.Client/Inkwell.Client.csproj; do
  dotnet pack "$root/$project" -c Release --nologo -v q "${build[@]}" -o "$out" -p:Version="$version"
done
echo "pack.sh: packed inkwell $version and Inkwell.Client $version into $out"
$smoke || exit 0

# The tool, from the local folder only (its dependencies are inside the tool package).
dotnet tool install inkwell --tool-path "$work/tools" --add-source "$out" --version "$version" >/dev/null
help=$("$work/tools/inkwell" --help)
grep -q "usage: inkwell COMMAND" <<<"$help" || { echo "pack.sh: installed 'inkwell --help' printed no usage:" >&2; echo "$help" >&2; exit 1; }
"$work/tools/inkwell" serve --help | grep -q -- "--shutdown-grace-period" || { echo "pack.sh: installed 'inkwell serve --help' lacks its flags" >&2; exit 1; }
# The embedded model travels in the tool: its greedy text from BOS is the model author's (models/stories260K).
greedy=$("$work/tools/inkwell" generate --max-new-tokens 30 --temperature 0 2>/dev/null)
golden=$(cat "$root/models/stories260K/greedy-256-from-bos.txt")
[[ -n "$greedy" && "$golden" == "$greedy"* ]] || { echo "pack.sh: installed 'inkwell generate' printed '$greedy', not the start of the model's greedy text" >&2; exit 1; }

# The client library, as a user's project references it: Inkwell.Client from the local folder (its own dependencies
# from NuGet's cache or the configured feed), its README inside the package (read from the folder NuGet extracts the
# package to on restore, so the check needs no unzip on the machine).
consumer="$work/consumer"
mkdir -p "$consumer"
cat >"$consumer/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="inkwell-local" value="$out" />
  </packageSources>
</configuration>
XML
cat >"$consumer/Consumer.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Inkwell.Client" Version="$version" />
  </ItemGroup>
</Project>
XML
cat >"$consumer/Program.cs" <<'CS'
using Inkwell.Client.Registry;

// A registry from YAML (the package's YamlDotNet dependency at work) resolving a model to its deployment.
var registry = ModelRegistry.Load(
    new RegistrySource("model_metadata.yaml", "models:\n  - name: acme/tiny\n"),
    new RegistrySource("model_deployments.yaml",
        "model_deployments:\n  - name: acme/tiny\n    model_name: acme/tiny\n    client_spec: {kind: tgi, url: \"http://127.0.0.1:1/\"}\n"));
Console.WriteLine(registry.Resolve("acme/tiny").Deployment.ClientSpec.Urls[0]);
CS
run=$(cd "$consumer" && dotnet run -c Release --nologo 2>&1) || { echo "pack.sh: a project using Inkwell.Client failed:" >&2; echo "$run" >&2; exit 1; }
[[ "$run" == *"http://127.0.0.1:1/"* ]] || { echo "pack.sh: the Inkwell.Client consumer printed '$run'" >&2; exit 1; }
[[ -f "$packages_cache/inkwell.client/$version/README.md" ]] || { echo "pack.sh: Inkwell.Client package has no README.md" >&2; exit 1; }
echo "pack.sh: smoke passed: dotnet tool install inkwell ($version) runs and generates, a project restores and runs Inkwell.Client"
