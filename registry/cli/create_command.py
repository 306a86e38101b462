"""``ollama-py create NAME [-f Modelfile] [-q TYPE]``.

With a model server answering at ``OLLAMA_HOST`` the CLI does what Ollama's client does: hash the
local files, upload the missing ones with ``POST /api/blobs/:digest``, then ``POST /api/create``
with the ``files`` map and the Modelfile's fields, and render the streamed progress. With no server
it runs the same creation in process: local files go into the store hashed once, as a reflink clone
where the file system has them, else a copy (never a hard link: editing the file afterwards must
not change the committed blob).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from registry.cli.context import CliContext

if TYPE_CHECKING:
    from registry.modelserver.creator import CreateRequest
    from registry.modelserver.creator.local_files import LocalFiles
    from registry.oci.digest import Digest

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``create`` to the ``ollama-py`` parser."""
    p = sub.add_parser(
        "create",
        help="Create a model from a Modelfile or a GGUF file",
        description="Create MODEL from a Modelfile (-f, default ./Modelfile) or straight from a GGUF "
        "file (--from). Uses the server at OLLAMA_HOST when one answers, else the store at OLLAMA_MODELS.",
        epilog="examples:\n  ollama-py create mymodel --from ./model.gguf\n"
        "  printf 'FROM ./model.gguf\\nSYSTEM You are concise.\\n' > Modelfile && ollama-py create mymodel",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="name of the new model (e.g. mymodel or team/model:tag)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("-f", "--file", default=None, help='name of the Modelfile (default "Modelfile")')
    source.add_argument(
        "--from",
        dest="from_file",
        default=None,
        metavar="FILE.gguf",
        help="create from this GGUF file, no Modelfile needed (as a Modelfile of one FROM line)",
    )
    p.add_argument(
        "-q",
        "--quantize",
        default=None,
        metavar="TYPE",
        help="quantize the model to this level (e.g. q4_K_M)",
    )
    p.set_defaults(handler=cmd_create)


class _Printer:
    """Progress events as lines on stderr: each status once, progress as a percentage."""

    def __init__(self, ctx: CliContext) -> None:
        self.ctx = ctx
        self.last = ""

    def event(self, event: dict[str, Any]) -> None:
        status = str(event.get("status", ""))
        total, done = event.get("total"), event.get("completed")
        if isinstance(total, int) and total > 0 and isinstance(done, int):
            if done < total:
                return
            status = f"{status} 100%"
        if status and status != self.last:
            print(status, file=self.ctx.err, flush=True)
            self.last = status


def _read_modelfile(args: argparse.Namespace) -> tuple[Any, Path]:
    from registry.errors import InvalidModelfile
    from registry.modelfile.parser import parse_modelfile

    if args.from_file is not None:
        gguf = Path(args.from_file).expanduser().resolve()
        if not gguf.is_file():
            raise InvalidModelfile(f"GGUF file not found: {args.from_file}")
        return parse_modelfile(f"FROM {json.dumps(str(gguf))}\n".encode()), gguf.parent

    path = Path(args.file or "Modelfile").expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidModelfile(f"Modelfile not found: {path}") from None
    except OSError as err:
        raise InvalidModelfile(f"cannot read {path}: {err.strerror}") from None
    return parse_modelfile(data), path.resolve().parent


def cmd_create(args: argparse.Namespace, ctx: CliContext) -> int:
    """Create a model; see the module docstring."""
    from registry.modelserver.creator.local_files import find_local_files
    from registry.modelserver.creator.request import normalise_quantize
    from registry.oci.name import ModelName

    name = ModelName.parse(args.model)
    quantize = normalise_quantize(args.quantize)
    modelfile, base_dir = _read_modelfile(args)
    for warning in modelfile.warnings:
        print(f"warning: {warning}", file=ctx.err)
    for instruction in ("draft", "renderer", "parser"):
        if getattr(modelfile, instruction):
            print(f"warning: {instruction.upper()} is not supported yet and was ignored", file=ctx.err)
    local = find_local_files(modelfile, base_dir)
    printer = _Printer(ctx)
    url = ctx.models.server_url
    if url is not None:
        _create_remote(url, args.model, modelfile, local, quantize, printer)
    else:
        _create_local(ctx, name, modelfile, local, quantize, printer)
    return 0


def _request(
    modelfile: Any, files: dict[str, Digest], adapters: dict[str, Digest], quantize: str | None
) -> CreateRequest:
    from registry.modelserver.creator import CreateRequest

    return CreateRequest.from_modelfile(modelfile, files=files, adapters=adapters, quantize=quantize)


def _create_local(
    ctx: CliContext, name: Any, modelfile: Any, local: LocalFiles, quantize: str | None, printer: _Printer
) -> None:
    from registry.modelserver.creator import create_model

    library = ctx.library
    files: dict[str, Digest] = {}
    adapters: dict[str, Digest] = {}
    added: list[Digest] = []
    try:
        for target, paths in ((files, local.files), (adapters, local.adapters)):
            for key, path in paths.items():
                staged = library.blobs.stage_file(path)  # reflink or copy: never the user's inode
                digest = staged.finish()[0]
                if not library.has_blob(digest):
                    added.append(digest)
                target[key] = library.commit(staged)[0]
        for event in create_model(library, name, _request(modelfile, files, adapters, quantize)):
            printer.event(event.to_json())
    finally:
        # What this command put in and no model uses (e.g. a quantized-away source) goes again.
        library.remove_unused(added)


def _hash(path: Path) -> Digest:
    from registry.store.blobs.hashing import hash_file

    return hash_file(path)[0]


def _upload(url: str, path: Path, digest: Digest, printer: _Printer) -> None:
    import urllib.error
    import urllib.request

    blob_url = f"{url}/api/blobs/{digest}"
    try:
        with urllib.request.urlopen(urllib.request.Request(blob_url, method="HEAD"), timeout=30):
            return
    except urllib.error.HTTPError as err:
        if err.code != 404:
            raise _server_error(err) from None
    printer.event({"status": f"copying file {digest} 100%"})
    size = path.stat().st_size
    with open(path, "rb") as body:
        request = urllib.request.Request(
            blob_url,
            data=body,
            method="POST",
            headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
        )
        try:
            urllib.request.urlopen(request, timeout=600).close()
        except urllib.error.HTTPError as err:
            raise _server_error(err) from None


def _server_error(err: Any) -> Exception:

    from registry.errors import OllamaPyError

    try:
        message = json.loads(err.read()).get("error") or str(err)
    except (ValueError, AttributeError):
        message = str(err)
    return OllamaPyError(message)


def _create_remote(
    url: str, model: str, modelfile: Any, local: LocalFiles, quantize: str | None, printer: _Printer
) -> None:
    import urllib.error
    import urllib.request

    from registry.errors import OllamaPyError

    digests = {key: _hash(path) for key, path in {**local.files, **local.adapters}.items()}
    for key, path in {**local.files, **local.adapters}.items():
        _upload(url, path, digests[key], printer)
    files = {k: digests[k] for k in local.files}
    adapters = {k: digests[k] for k in local.adapters}
    body = json.dumps(_request(modelfile, files, adapters, quantize).to_json(model)).encode()
    request = urllib.request.Request(
        f"{url}/api/create", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=3600) as response:
            for line in response:
                if not line.strip():
                    continue
                event = json.loads(line)
                if "error" in event:
                    raise OllamaPyError(str(event["error"]))
                printer.event(event)
    except urllib.error.HTTPError as err:
        raise _server_error(err) from None
