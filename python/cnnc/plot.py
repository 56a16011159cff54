"""Training curves from a metrics log: `python3 -m cnnc.plot metrics.csv -o curves.png`.

Reads the CSV that `cnnrun train --log` and `Model.fit(log=...)` write (one row per epoch:
epoch, train_loss, train_accuracy, test_loss, test_accuracy, lr, seconds) and draws loss and
accuracy per epoch, training and test side by side, with matplotlib. Several logs draw into
the same axes, labelled by file name, to compare runs.
"""

import argparse
import csv
import math
import os
import sys

__all__ = ["read_log", "plot_curves"]


def read_log(path):
    """The columns of a metrics CSV as {name: [float, ...]}."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "epoch" not in rows[0]:
        raise ValueError(f"{path}: not a metrics log (expected a header starting with 'epoch')")
    return {k: [float(r[k]) for r in rows] for k in rows[0]}


def plot_curves(logs, output, title=None):
    """Draws `logs` ({label: columns}, as read_log returns) into the image file `output`."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, cols in logs.items():
        prefix = f"{label}: " if len(logs) > 1 else ""
        epochs = cols["epoch"]
        for split, style in (("train", "-"), ("val", ":"), ("test", "--")):
            loss = cols.get(f"{split}_loss")
            if loss and not all(math.isnan(v) for v in loss):
                loss_ax.plot(epochs, loss, style, marker="o", label=f"{prefix}{split}")
            acc = cols.get(f"{split}_accuracy")
            if acc and not all(math.isnan(v) for v in acc):
                acc_ax.plot(epochs, [100 * a for a in acc], style, marker="o",
                            label=f"{prefix}{split}")
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss")
    acc_ax.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(output, dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m cnnc.plot",
                                 description="Draw training curves from cnnrun train --log "
                                             "or Model.fit(log=...) metrics files.")
    ap.add_argument("logs", nargs="+", help="metrics CSV files")
    ap.add_argument("-o", "--output", default="curves.png", help="image file (default curves.png)")
    ap.add_argument("--title", help="a title above the plots")
    args = ap.parse_args(argv)
    try:
        logs = {os.path.splitext(os.path.basename(p))[0]: read_log(p) for p in args.logs}
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    plot_curves(logs, args.output, args.title)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
