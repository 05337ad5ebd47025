"""The configuration of every system as it ran."""
import benchlib as bl

TITLE = "Configurations"


def run(ctx):
    out = [f"## {TITLE}\n\nEvery system ran from a scratch directory with these files "
           "(ports and paths differ per run). No peer was tuned down; limits that would "
           "cap a peer below the machine (Pushpin's message rate and queue) were raised.\n"]
    for label, (desc, files) in bl.CONFIGS.items():
        out.append(f"### {label}\n\n{desc}\n")
        for name, text in files.items():
            out.append(f"`{name}`:\n\n```\n{text.strip()}\n```\n")
    if len(out) == 1:
        out.append("(no system was started in this run)")
    return "\n".join(out)
