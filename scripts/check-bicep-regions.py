#!/usr/bin/env python3
"""What checkov cannot see in bicep/, the pipelines and the runbook: that each region stands alone, that a deployment
restarts nothing that serves, that alerts reach someone, and that the lists of timers and poison queues match the app.

    scripts/check-bicep-regions.py                 check (scripts/check-infra.sh runs it); exit 1 on any failure
    scripts/check-bicep-regions.py --write-docs    rewrite the generated blocks of docs/operations.md, then check
    scripts/check-bicep-regions.py --root DIR      check another tree (e.g. an older commit, to see what it misses)

The app itself is the source of the function lists: tests/snapshots/manifests__function_manifests.snap, the reviewed
snapshot of every function.json that `portal package` writes (tests/manifests.rs keeps it in step with the code).
Timers are the functions with a timerTrigger, queue consumers those with a queueTrigger; the host moves a message that
failed 5 times to `<queue>-poison`.

The Bicep is read as text, as tests/bicep_settings.rs does: top-level declarations by bracket matching, the app
settings block by `var name = {` ... `}` lines. No Bicep compiler is needed (none can be installed offline).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

try:
    import yaml  # PyYAML, in the .test-env/infra virtualenv (a dependency of checkov)
except ImportError:  # pragma: no cover - check-infra.sh runs this with the virtualenv's python
    yaml = None

SNAPSHOT = "tests/snapshots/manifests__function_manifests.snap"
MAIN = "bicep/main.bicep"
RUNBOOK = "docs/operations.md"

# Shared (not per-region) modules the regions may both use, and why each survives the loss of one region. Anything
# else a region's settings reference must be that region's own.
SHARED_ALLOWED = {
    "cosmos": "one account with a replica in both regions (failoverLocations from `regions`), service-managed failover",
    "keyVault": "the key-encryption key cannot leave its geography; Key Vault keeps a read-only replica in the "
    "primary's pair and fails over by itself (wrap, unwrap and reading secrets work there); "
    "each region has its own private endpoint to it",
    "frontDoor": "global",
    "waf": "global",
    "originGroup": "global (Front Door)",
    "route": "global (Front Door)",
    "sharedAlerts": "global (action group, metric alerts, budget)",
    "citizensReplication": "the replication between the two regions' accounts",
    "web": "the web client's static files: a Static Web App is served from the platform's global edge (its "
    "resource lives in one region, its content does not), behind the global Front Door; it holds no data",
}
# Modules every region must have its own of (looped over `regions`, in the region's location).
PER_REGION = [
    "workspaces",
    "appInsights",
    "hostStorages",
    "dataStorages",
    "networks",
    "privateDns",
    "privateEndpoints",
    "plans",
    "apps",
    "access",
    "alerts",
]
# App settings a region needs of its own, by what they are for.
REGION_SETTINGS = {
    "AzureWebJobsStorage__queueServiceUri": ("queues", "hostStorages"),
    "AzureWebJobsStorage__blobServiceUri": ("hosting (timer leases, keys)", "hostStorages"),
    "AzureWebJobsStorage__tableServiceUri": ("hosting (host diagnostics)", "hostStorages"),
    "PORTAL_BLOB_CONTAINER_URL": ("files", "dataStorages"),
    "APPLICATIONINSIGHTS_CONNECTION_STRING": ("monitoring", "appInsights"),
}
ENVIRONMENTS = ["test", "preproduction", "production"]


# ---------------------------------------------------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------------------------------------------------


class Report:
    def __init__(self) -> None:
        self.failures: list[str] = []
        self.passed = 0
        self.notes: list[str] = []

    def check(self, ok: bool, what: str, why: str = "") -> bool:
        if ok:
            self.passed += 1
        else:
            self.failures.append(f"{what}" + (f": {why}" if why else ""))
        return ok

    def note(self, text: str) -> None:
        self.notes.append(text)


# ---------------------------------------------------------------------------------------------------------------------
# The app's functions, from the committed snapshot of the generated manifests
# ---------------------------------------------------------------------------------------------------------------------


@dataclass
class AppFunctions:
    timers: dict[str, str] = field(default_factory=dict)  # name -> NCRONTAB schedule
    queues: dict[str, str] = field(default_factory=dict)  # function name -> queue name


def read_functions(root: Path) -> AppFunctions:
    text = (root / SNAPSHOT).read_text(encoding="utf-8")
    # insta: a YAML-ish header between two `---` lines, then the JSON of every manifest.
    body = text.split("---\n", 2)[2] if text.startswith("---\n") else text
    manifests = json.loads(body)
    functions = AppFunctions()
    for name, manifest in sorted(manifests.items()):
        for binding in manifest.get("bindings", []):
            if binding.get("type") == "timerTrigger":
                functions.timers[name] = binding["schedule"]
            elif binding.get("type") == "queueTrigger":
                functions.queues[name] = binding["queueName"]
    return functions


def period_minutes(schedule: str) -> int | None:
    """The period of the NCRONTAB schedules the app uses: `s m * * * *` hourly, `s m h * * *` daily."""
    fields = schedule.split()
    if len(fields) != 6 or not all(f.isdigit() for f in fields[:2]) or fields[3:] != ["*", "*", "*"]:
        return None
    if fields[2] == "*":
        return 60
    if fields[2].isdigit():
        return 24 * 60
    return None


# ---------------------------------------------------------------------------------------------------------------------
# Reading Bicep as text
# ---------------------------------------------------------------------------------------------------------------------


def strip_comments(text: str) -> str:
    """Bicep text without // and /* */ comments (strings, also ''' multi-line ones, are kept)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text.startswith("'''", i):
            j = text.find("'''", i + 3)
            j = n if j < 0 else j + 3
            out.append(text[i:j])
            i = j
        elif text[i] == "'":
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


@dataclass
class Declaration:
    kind: str  # module, resource, var, param, output, ...
    name: str
    header: str  # the first line
    body: str  # everything after `=` (modules, resources, vars, outputs) or the whole text
    decorators: list[str]
    text: str

    @property
    def looped_over_regions(self) -> bool:
        return re.match(r"\s*\[\s*for\s+(\(\s*\w+\s*,\s*\w+\s*\)|\w+)\s+in\s+regions\s*:", self.body) is not None

    def param(self, key: str) -> str | None:
        """The value of `key:` at any depth (first occurrence), as written on its line."""
        m = re.search(rf"^\s*{re.escape(key)}:\s*(.+)$", self.body, re.M)
        return m.group(1).strip() if m else None


def declarations(text: str) -> list[Declaration]:
    """Top-level declarations with their full text (by bracket matching, strings respected)."""
    text = strip_comments(text)
    decls: list[Declaration] = []
    decorators: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("@"):
            # A decorator, possibly spanning lines (@allowed([...])).
            chunk, i = _balanced(lines, i)
            decorators.append(chunk)
            continue
        m = re.match(r"^(module|resource|var|param|output|type|func|metadata|targetScope)\b\s*(\w*)", line)
        if m:
            chunk, i = _balanced(lines, i)
            kind, name = m.group(1), m.group(2)
            body = chunk.split("=", 1)[1] if "=" in chunk else chunk
            decls.append(Declaration(kind, name, line, body, decorators, chunk))
            decorators = []
            continue
        if line.strip():
            decorators = []
        i += 1
    return decls


def _balanced(lines: list[str], start: int) -> tuple[str, int]:
    depth = 0
    in_string = False
    out: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        out.append(line)
        j = 0
        while j < len(line):
            c = line[j]
            if in_string:
                if c == "\\":
                    j += 1
                elif c == "'":
                    in_string = False
            elif c == "'":
                in_string = True
            elif c in "{[(":
                depth += 1
            elif c in "}])":
                depth -= 1
            j += 1
        i += 1
        if depth <= 0 and not in_string:
            break
    return "\n".join(out), i


def settings_objects(text: str) -> dict[str, dict[str, str]]:
    """The objects of the app settings block (`var name = {` ... `}`), key -> value as written."""
    begin = text.index("==== BEGIN app settings")
    end = text.index("==== END app settings")
    objects: dict[str, dict[str, str]] = {}
    current: tuple[str, dict[str, str]] | None = None
    for line in text[begin:end].split("\n")[1:]:
        m = re.match(r"^var (\w+) = \{$", line)
        if m:
            current = (m.group(1), {})
        elif line == "}" and current:
            objects[current[0]] = current[1]
            current = None
        elif current:
            kv = re.match(r"^\s*'?([A-Za-z0-9_.]+)'?:\s*(.+)$", line)
            if kv and not line.strip().startswith("//"):
                current[1][kv.group(1)] = kv.group(2).strip()
    return objects


def settings_array(text: str, name: str) -> list[str]:
    m = re.search(rf"^var {name} = \[\n(.*?)\n\]", text, re.M | re.S)
    return [line.strip().strip("'") for line in m.group(1).split("\n") if line.strip()] if m else []


def union_args(decls: dict[str, Declaration], name: str) -> list[str]:
    decl = decls.get(name)
    if not decl:
        return []
    m = re.search(r"union\((.*)\)\s*$", decl.body.strip(), re.S)
    if not m:
        return []
    args = []
    for arg in m.group(1).split(","):
        arg = arg.strip()
        # `cond ? a : b` contributes both.
        args.extend(re.findall(r"\b[A-Za-z_]\w*\b", arg) if "?" in arg else [arg])
    return [a for a in args if a not in {"activeRegion", "primary", "secondary"}]


def references(value: str) -> list[tuple[str, str | None]]:
    """(module or variable, index) pairs a value refers to: `hostStorages[1].outputs`, `keyVault.outputs`, `kekName`."""
    refs: list[tuple[str, str | None]] = []
    value = re.sub(r"'(?:[^'\\]|\\.)*'", lambda m: " ".join(re.findall(r"\$\{([^}]*)\}", m.group(0))), value)
    for m in re.finditer(r"\b([A-Za-z_]\w*)(?:\[(\w+)\])?", value):
        refs.append((m.group(1), m.group(2)))
    return refs


# ---------------------------------------------------------------------------------------------------------------------
# Generated blocks of the runbook
# ---------------------------------------------------------------------------------------------------------------------


def generated_blocks(functions: AppFunctions) -> dict[str, str]:
    timers = sorted(functions.timers)
    off = " \\\n  ".join(f"AzureWebJobs.{t}.Disabled=true" for t in timers)
    on = " \\\n  ".join(f"AzureWebJobs.{t}.Disabled=false" for t in timers)
    switch = (
        "```sh\n"
        f"# FROM gives the timers up (skip it if it does not answer), TO takes them; all {len(timers)} of the app's timers.\n"
        'az functionapp config appsettings set -g $RG -n "$FROM" --slot-settings PORTAL_TIMERS_ENABLED=false \\\n'
        f"  {off}\n"
        'az functionapp config appsettings set -g $RG -n "$TO" --slot-settings PORTAL_TIMERS_ENABLED=true \\\n'
        f"  {on}\n"
        "```"
    )
    rows = ["| queue | consumed by | poison queue |", "| --- | --- | --- |"]
    for function, queue in sorted(functions.queues.items(), key=lambda item: item[1]):
        rows.append(f"| `{queue}` | `{function}` | `{queue}-poison` |")
    queues = " ".join(sorted(set(functions.queues.values())))
    poison = "\n".join(rows) + f"\n\nAll of them, for loops: `QUEUES=\"{queues}\"`."
    return {"timer-switch": switch, "poison-queues": poison}


def block_pattern(name: str) -> re.Pattern[str]:
    return re.compile(
        rf"(<!-- BEGIN generated {name}: scripts/check-bicep-regions.py --write-docs, from the app's function manifests -->)\n"
        rf"(.*?)\n?"
        rf"(<!-- END generated {name} -->)",
        re.S,
    )


def write_docs(root: Path, functions: AppFunctions) -> None:
    path = root / RUNBOOK
    text = path.read_text(encoding="utf-8")
    for name, content in generated_blocks(functions).items():
        pattern = block_pattern(name)
        if not pattern.search(text):
            sys.exit(f"check-bicep-regions: {RUNBOOK} has no generated block `{name}` to rewrite")
        text = pattern.sub(lambda m: m.group(1) + "\n" + content + "\n" + m.group(3), text)
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------------------------------------------------


def check_app_lists(root: Path, r: Report, functions: AppFunctions, main: str) -> None:
    objects = settings_objects(main)
    on, off, staging = (objects.get(n, {}) for n in ("timersOn", "timersOff", "stagingSlotSettings"))
    r.check(bool(functions.timers), "the manifests snapshot lists timers", SNAPSHOT)
    for timer in functions.timers:
        key = f"AzureWebJobs.{timer}.Disabled"
        r.check(on.get(key) == "'false'", f"timer {timer} runs in the active region", f"timersOn {key}")
        r.check(off.get(key) == "'true'", f"timer {timer} is off in the standby region", f"timersOff {key}")
        r.check(staging.get(key) == "'true'", f"timer {timer} is off in staging slots", f"stagingSlotSettings {key}")
    for function in functions.queues:
        key = f"AzureWebJobs.{function}.Disabled"
        r.check(on.get(key) == "'false'", f"queue function {function} consumes in the active region", key)
        r.check(off.get(key) == "'false'", f"queue function {function} consumes in the standby region", key)
        r.check(staging.get(key) == "'true'", f"queue function {function} is off in staging slots", key)
    declared = set(functions.timers) | set(functions.queues)
    for obj_name, obj in (("timersOn", on), ("timersOff", off), ("stagingSlotSettings", staging)):
        for key in obj:
            m = re.match(r"AzureWebJobs\.(\w+)\.Disabled$", key)
            if m:
                r.check(m.group(1) in declared, f"{obj_name} disables only functions the app has", key)
    sticky = set(settings_array(main, "stickySettingNames"))
    for key in list(on) + ["AzureFunctionsWebHost__hostid"]:
        r.check(key in sticky, f"{key} is a slot (sticky) setting", "stickySettingNames")
    queue_names = settings_array(main, "queueNames")
    for queue in sorted(set(functions.queues.values())):
        r.check(queue in queue_names, f"queue {queue} is created", "queueNames in bicep/main.bicep")
        r.check(f"{queue}-poison" in queue_names, f"poison queue {queue}-poison is created", "queueNames")
    for name in queue_names:
        if not name.endswith("-poison"):
            r.check(f"{name}-poison" in queue_names, f"queue {name} has its poison queue", "queueNames")
    # The stale-timer alert's list.
    timers_decl = re.search(r"^var timers = \[\n(.*?)\n\]", main, re.M | re.S)
    listed = {}
    if timers_decl:
        for entry in re.finditer(
            r"name: '(\w+)'\s*\n\s*schedule: '([^']+)'\s*\n\s*staleAfterMinutes: (\d+)", timers_decl.group(1)
        ):
            listed[entry.group(1)] = (entry.group(2), int(entry.group(3)))
    r.check(bool(timers_decl), "main.bicep lists the timers for the stale-timer alert", "var timers")
    for timer, schedule in functions.timers.items():
        period = period_minutes(schedule)
        r.check(period is not None, f"timer {timer}'s schedule {schedule!r} is one this check understands")
        got = listed.get(timer)
        r.check(got is not None, f"timer {timer} is watched by the stale-timer alert", "var timers")
        if got and period:
            r.check(got[0] == schedule, f"timer {timer}'s schedule in var timers is the app's", f"{got[0]} != {schedule}")
            r.check(got[1] == period + 60, f"timer {timer} alerts after its period plus an hour", f"{got[1]} != {period + 60}")
    for timer in listed:
        r.check(timer in functions.timers, f"var timers lists only timers the app has", timer)


def check_runbook(root: Path, r: Report, functions: AppFunctions) -> None:
    text = (root / RUNBOOK).read_text(encoding="utf-8")
    for name, content in generated_blocks(functions).items():
        m = block_pattern(name).search(text)
        if r.check(m is not None, f"{RUNBOOK} has the generated block `{name}`"):
            r.check(
                m.group(2) == content,
                f"{RUNBOOK}'s block `{name}` matches the app's function manifests",
                "run scripts/check-bicep-regions.py --write-docs",
            )
    failover = _section(text, "Fail over")
    for timer in functions.timers:
        r.check(
            f"AzureWebJobs.{timer}.Disabled=false" in failover and f"AzureWebJobs.{timer}.Disabled=true" in failover,
            f"the failover commands switch timer {timer}",
            f"{RUNBOOK}, section \"Fail over\"",
        )
    replay = _section(text, "Replay poison messages")
    for queue in set(functions.queues.values()):
        r.check(f"{queue}-poison" in replay, f"the runbook's poison queues name {queue}-poison", "\"Replay poison messages\"")
    drill = _section(text, "Failover drill")
    r.check(bool(drill), f"{RUNBOOK} has a failover drill", "a `## Failover drill` section")
    for needle in ("What each region needs", "What a citizen sees", "az cosmosdb failover-priority-change",
                   "az afd origin update", "or-policy"):
        r.check(needle in drill, f"the failover drill covers {needle!r}")
    cost = _section(text, "Monthly cost")
    for environment in ENVIRONMENTS:
        r.check(re.search(rf"^### .*{environment}", cost, re.M | re.I) is not None,
                f"the monthly cost is itemised for {environment}", f"a `### ... {environment}` heading under Monthly cost")


def _section(text: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}[^\n]*\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    return m.group(1) if m else ""


def check_regions(root: Path, r: Report, main: str) -> None:
    decls = {d.name: d for d in declarations(main) if d.kind == "var"}
    modules = {d.name: d for d in declarations(main) if d.kind == "module"}
    # Every region has its own of these, in its own location.
    for name in PER_REGION:
        d = modules.get(name)
        if not r.check(d is not None, f"module {name} exists"):
            continue
        r.check(d.looped_over_regions, f"module {name} is one per region", "`for ... in regions`")
        location = d.param("location")
        if location is not None:
            r.check(location == "region.location", f"module {name} is in its region's location", location)
        # Inside a per-region loop, only the loop's own index: `x[0]` would tie both regions to the primary.
        for ref, index in references(d.body):
            if ref in modules and modules[ref].looped_over_regions:
                r.check(index == "i", f"module {name} uses {ref} of its own region", f"{ref}[{index}]")
    # Shared modules: only those that survive a region.
    for name, d in modules.items():
        if d.looped_over_regions:
            continue
        r.check(name in SHARED_ALLOWED, f"shared module {name} survives the loss of a region",
                "make it per region (for ... in regions) or explain it in SHARED_ALLOWED")
    cosmos = modules.get("cosmos")
    if r.check(cosmos is not None, "module cosmos exists"):
        r.check(re.search(r"failoverLocations:\s*\[\s*for\s+region\s+in\s+regions", cosmos.body) is not None,
                "Cosmos DB has a replica in every region", "failoverLocations: [for region in regions: ...]")
        r.check(cosmos.param("failoverPriority") == "region.cosmosFailoverPriority",
                "Cosmos DB failover priorities come from the regions (activeRegion)", cosmos.param("failoverPriority") or "")
    regions_var = decls.get("regions")
    if r.check(regions_var is not None, "var regions exists"):
        for role in ("primary", "secondary"):
            block = re.search(rf"role: '{role}'(.*?)(?=role: '|\Z)", regions_var.body, re.S)
            body = block.group(1) if block else ""
            for key in ("frontDoorPriority", "originEnabled", "cosmosFailoverPriority"):
                m = re.search(rf"^\s*{key}: (.+)$", body, re.M)
                value = m.group(1) if m else ""
                r.check("activeRegion" in value or value == "true",
                        f"{role}: {key} derives from activeRegion", value or "missing")
            m = re.search(r"^\s*frontDoorPriority: (.+)$", body, re.M)
            r.check(bool(m) and "activeRegion" in m.group(1), f"{role}: Front Door priority follows activeRegion")
    origin = modules.get("originGroup")
    if r.check(origin is not None, "module originGroup exists"):
        r.check(origin.param("priority") == "region.frontDoorPriority", "origin priorities come from the regions")
        r.check(origin.param("enabled") == "region.originEnabled", "origin states come from the regions")
        r.check(origin.param("privateLinkResourceId") is not None, "Front Door reaches the apps through Private Link")

    # The app settings each region's slots get.
    objects = settings_objects(main)
    for shared in ("portalSettings", "hostSettings"):
        for key, value in objects.get(shared, {}).items():
            for ref, _ in references(value):
                r.check(not (ref in modules and modules[ref].looped_over_regions),
                        f"{shared}.{key} (shared by both regions) names no region's own resource", value)
            r.check(key not in REGION_SETTINGS, f"{key} is a region's own setting, not a shared one", shared)
    for index, role in ((0, "primary"), (1, "secondary")):
        staging = f"{role}StagingSettings"
        args = union_args(decls, staging)
        r.check(bool(args), f"var {staging} is a union of settings objects")
        region_object = f"{role}RegionSettings"
        r.check(region_object in args, f"{role}'s staging slot gets {region_object}", staging)
        effective: dict[str, str] = {}
        for arg in args:
            effective.update(objects.get(arg, {}))
        for key, (purpose, module) in REGION_SETTINGS.items():
            value = effective.get(key, "")
            r.check(f"{module}[{index}]" in value, f"{role}: {key} ({purpose}) is the region's own", value or "missing")
        for key, value in effective.items():
            for ref, idx in references(value):
                if ref in modules and modules[ref].looped_over_regions:
                    r.check(idx == str(index), f"{role}: {key} names only its own region's {ref}", f"{ref}[{idx}]")
                elif ref in modules:
                    r.check(ref in SHARED_ALLOWED, f"{role}: {key} names shared {ref}", "not a resource that survives a region")
        # Secrets: Key Vault references name the one vault (SHARED_ALLOWED explains why it survives a region).
        vault_refs = [v for v in effective.values() if v.startswith("'@Microsoft.KeyVault(")]
        r.check(all("VaultName=${keyVaultName}" in v for v in vault_refs), f"{role}: secrets come from the Key Vault")
    r.note("secrets and the key-encryption key: one Key Vault for both regions; " + SHARED_ALLOWED["keyVault"])
    apps = modules.get("apps")
    if apps:
        r.check(apps.param("stagingAppSettings") == "region.role == 'primary' ? primaryStagingSettings : secondaryStagingSettings",
                "each region's app gets its own region's settings", apps.param("stagingAppSettings") or "")
        r.check(apps.param("virtualNetworkSubnetId") == "networks[i].outputs.appsSubnetResourceId",
                "each region's app is integrated with its own virtual network")
    outputs = [d for d in declarations(main) if d.kind == "output" and d.name == "regions"]
    if r.check(bool(outputs), "output regions exists"):
        body = outputs[0].body
        r.check("hostStorages[i].outputs.name" in body and "hostStorages[i].outputs.primaryEndpoints.blob" in body,
                "each region's packages go to its own host storage", "output regions[].packages")
        r.check("productionSlotSettings" in body, "the release pipeline learns each production slot's settings")


def check_deploys(root: Path, r: Report, main: str) -> None:
    decls = {d.name: d for d in declarations(main) if d.kind == "module"}
    for name in ("plans", "apps"):
        d = decls.get(name)
        r.check(d is not None and "@batchSize(1)" in d.decorators, f"module {name} deploys one region after the other",
                "@batchSize(1)")
    site = (root / "bicep/modules/avm/res/web/site/main.bicep").read_text(encoding="utf-8")
    site_code = strip_comments(site)
    r.check("'config/main.bicep'" not in site_code and not re.search(r"Microsoft\.Web/sites/config@[^']*' = \{[^}]*name: 'appsettings'", site_code, re.S),
            "a deployment writes no production slot settings (they would restart the serving slot)",
            "modules/avm/res/web/site")
    r.check("'slot/config/main.bicep'" in site_code, "a deployment writes the staging slot's settings")
    workflows = root / ".github/workflows"
    deploy = (workflows / "deploy.yml").read_text(encoding="utf-8")
    environment = (workflows / "deploy-environment.yml").read_text(encoding="utf-8")
    if yaml is not None:
        spec = yaml.safe_load(deploy)
        on = spec.get("on", spec.get(True, {}))
        run = on.get("workflow_run") or {}
        r.check("push" not in on, "deploy.yml does not run on a push by itself", "on: push")
        r.check("ci" in (run.get("workflows") or []) and "completed" in (run.get("types") or []),
                "deploy.yml runs after ci.yml", "on.workflow_run")
    r.check("github.event.workflow_run.conclusion == 'success'" in deploy, "deploy.yml checks ci.yml's conclusion")
    r.check("github.event.workflow_run.head_sha" in deploy, "deploy.yml deploys the commit ci.yml tested", "head_sha")
    r.check(re.search(r"ref: \$\{\{ (needs\.gate\.outputs\.sha|inputs\.ref) \}\}", deploy) is not None
            and environment.count("ref: ${{ inputs.ref }}") >= 2,
            "every checkout of the release takes the tested commit")
    r.check("--validation-level ProviderNoRbac" in environment, "what-if validates without RBAC write rights",
            "--validation-level ProviderNoRbac")
    r.check("productionSlotSettings" in environment, "the release sets each production slot's own settings")
    r.check(".packages.value" not in environment and "packages.blobEndpoint" in environment,
            "each region runs the package from its own host storage", "outputs.regions[].packages")
    for path in sorted(workflows.glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        for m in re.finditer(r"^\s*(?:-\s*)?uses:\s*([^\s#]+)", text, re.M):
            action = m.group(1)
            if action.startswith("./"):
                continue
            r.check(re.search(r"@[0-9a-f]{40}$", action) is not None, f"{path.name}: {action} is pinned by commit")
        for m in re.finditer(r"az bicep install[^\n]*", text):
            r.check("--version" in m.group(0), f"{path.name}: the Bicep CLI version is pinned", m.group(0))


def check_alerts(root: Path, r: Report, main: str) -> None:
    shared = (root / "bicep/modules/ptn/portal-alerts-shared/main.bicep").read_text(encoding="utf-8") \
        if (root / "bicep/modules/ptn/portal-alerts-shared/main.bicep").exists() else ""
    regional = (root / "bicep/modules/ptn/portal-alerts/main.bicep").read_text(encoding="utf-8")
    r.check("Microsoft.Insights/actionGroups" in shared and "emailReceivers" in shared and "webhookReceivers" in shared,
            "one action group with e-mail and webhook, always created", "modules/ptn/portal-alerts-shared")
    r.check(re.search(r"resource actionGroup '[^']+' = if", shared) is None, "the action group exists in every environment")
    r.check(re.search(r"^param alertEmailAddress string$", main, re.M) is not None,
            "alertEmailAddress is required (no empty default)")
    r.check("OriginHealthPercentage" in shared, "an alert on Front Door origin health")
    r.check("TotalRequests" in shared and "'429'" in shared, "an alert on Cosmos DB throttling (429)")
    r.check("Microsoft.Consumption/budgets" in shared, "a monthly budget")
    r.check("Microsoft.Insights/webtests" in regional and "WebtestLocationAvailabilityCriteria" in regional,
            "an availability test from outside with its alert")
    r.check("stale-timers" in regional and "enabled: timersExpected" in regional,
            "an alert on a timer that has not run in its period, in the active region")
    r.check("poison queue depth" in regional and "MaxDequeueCount" in regional, "alerts on poison queues")
    r.check("actionGroupResourceId" in regional and "alertEmailAddress" not in regional,
            "every regional alert notifies the action group")
    for environment in ENVIRONMENTS:
        params = (root / f"bicep/env/{environment}.bicepparam").read_text(encoding="utf-8")
        m = re.search(r"^param alertEmailAddress = '([^']+)'", params, re.M)
        r.check(bool(m) and "@" in m.group(1), f"{environment}: alerts go to a mailbox", "alertEmailAddress")
        r.check(re.search(r"^param monthlyBudget = \d+", params, re.M) is not None, f"{environment}: has a budget")
        r.check(re.search(r"^param budgetStartDate = '\d{4}-\d{2}-01'", params, re.M) is not None,
                f"{environment}: the budget starts on the first of a month")
        r.check("readEnvironmentVariable('ALERT_WEBHOOK_URL'" in params, f"{environment}: the webhook comes from the pipeline")
    # WAF
    waf = next((d for d in declarations(main) if d.kind == "module" and d.name == "waf"), None)
    if r.check(waf is not None, "module waf exists"):
        r.check(waf.param("mode") == "environmentName == 'production' ? 'Prevention' : 'Detection'",
                "the WAF prevents in production and detects elsewhere", waf.param("mode") or "")
        r.check(waf.param("allowedCountries") == "wafAllowedCountries", "the WAF's country rule is a parameter")
        r.check(waf.param("managedRuleExclusions") is not None, "the WAF has exclusions")
    for selector, part in (("code", "OIDC callback"), ("state", "OIDC callback"), ("text", "petition text")):
        r.check(re.search(rf"selector: '{selector}'", main) is not None, f"the WAF excludes {selector!r} ({part})")


def check_network(root: Path, r: Report, main: str) -> None:
    def module(path: str) -> str:
        return strip_comments((root / "bicep/modules" / path / "main.bicep").read_text(encoding="utf-8"))

    for path in ("avm/res/storage/storage-account", "avm/res/document-db/database-account", "avm/res/key-vault/vault"):
        text = module(path)
        r.check("publicNetworkAccess: 'Disabled'" in text, f"{path}: no public network access")
    site = module("avm/res/web/site")
    r.check(site.count("publicNetworkAccess: 'Disabled'") == 2, "both slots of an app: no public network access")
    r.check(site.count("virtualNetworkSubnetId:") == 2 and site.count("vnetRouteAllEnabled: true") == 2,
            "both slots of an app: VNet integration, all outbound through it")
    network = (root / "bicep/modules/ptn/region-network/main.bicep")
    text = strip_comments(network.read_text(encoding="utf-8")) if network.exists() else ""
    r.check("Microsoft.Network/natGateways" in text and "natGateway:" in text, "the apps leave through a NAT gateway")
    endpoints = root / "bicep/modules/ptn/region-private-endpoints/main.bicep"
    text = endpoints.read_text(encoding="utf-8") if endpoints.exists() else ""
    for group in ("blob", "queue", "table", "Sql", "vault"):
        r.check(f"groupId: '{group}'" in text, f"a private endpoint for {group}")
    checkov = (root / ".checkov.yaml").read_text(encoding="utf-8")
    r.check("not done yet" not in checkov.lower(), ".checkov.yaml skips nothing as \"not done yet\"")
    r.check("- CKV_AZURE_225" not in checkov, "the zone-redundant plan check is not skipped")
    for environment in ("preproduction", "production"):
        params = (root / f"bicep/env/{environment}.bicepparam").read_text(encoding="utf-8")
        r.check("param zoneRedundant = true" in params, f"{environment}: zone-redundant")
        for role in ("primary", "secondary"):
            m = re.search(rf"^param {role}MinimumInstances = (\d+)", params, re.M)
            r.check(bool(m) and int(m.group(1)) >= 2, f"{environment}: {role} region keeps 2 instances (zone-redundant plan)")
    storage = module("avm/res/storage/storage-account")
    r.check(re.search(r"category: 'StorageRead'\s*\n\s*enabled: logReads", storage) is not None
            and "param logReads bool = false" in storage and "logReads: true" not in main,
            "queue polling (StorageRead) is not logged")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    root: Path = args.root
    functions = read_functions(root)
    if args.write_docs:
        write_docs(root, functions)
    main_text = (root / MAIN).read_text(encoding="utf-8")
    report = Report()
    sections = [
        ("the app's timers and queues", lambda: check_app_lists(root, report, functions, main_text)),
        ("the runbook", lambda: check_runbook(root, report, functions)),
        ("each region stands alone", lambda: check_regions(root, report, main_text)),
        ("deploys restart nothing that serves", lambda: check_deploys(root, report, main_text)),
        ("alerts reach someone", lambda: check_alerts(root, report, main_text)),
        ("private network, zones, logs", lambda: check_network(root, report, main_text)),
    ]
    for title, run in sections:
        before = len(report.failures)
        try:
            run()
        except (OSError, ValueError, KeyError, IndexError) as error:
            report.failures.append(f"{title}: could not be checked ({type(error).__name__}: {error})")
        status = "ok" if len(report.failures) == before else f"{len(report.failures) - before} failed"
        print(f"check-bicep-regions: {title}: {status}", file=sys.stderr)
    for failure in report.failures:
        print(f"check-bicep-regions: FAILED {failure}", file=sys.stderr)
    for note in report.notes:
        print(f"check-bicep-regions: note: {note}", file=sys.stderr)
    print(
        f"check-bicep-regions: {report.passed} passed, {len(report.failures)} failed "
        f"({len(functions.timers)} timers, {len(functions.queues)} queue functions from {SNAPSHOT})",
        file=sys.stderr,
    )
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
