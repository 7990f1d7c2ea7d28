"""A writer process for the crash and concurrency tests: adds and removes articles with the fake
embedder, printing one line per change after it is durable ("added ID" / "removed ID").

Arguments: INDEX NAME COUNT MODE [GO]; with GO, the writer opens the index (maybe absent), says
"ready" and waits until the file GO exists, so several first writers start from the same state."""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conftest import FakeEmbedder  # noqa: E402

from qa import Article, Index  # noqa: E402


def article(name: str, i: int) -> Article:
    return Article(id=f"{name}-{i}", title=f"{name} {i}",
                   text=f"Bericht {i} van {name} over de haven. Er kwamen {i} schepen aan. " * 3)


def main() -> None:
    path, name, count, mode = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    go = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    idx = Index.open(path, embedder=FakeEmbedder())
    print("ready", flush=True)
    while go is not None and not go.exists():
        time.sleep(0.005)
    for i in range(count):
        if mode == "add" or i % 3:
            idx.add([article(name, i)])
            print(f"added {name}-{i}", flush=True)
        else:
            removed = idx.remove([f"{name}-{i - 1}"])
            for r in removed:
                print(f"removed {r}", flush=True)
        if mode == "compact" and i % 2 == 1:
            idx.compact()
            print("compacted", flush=True)
        time.sleep(0.001)


if __name__ == "__main__":
    main()
