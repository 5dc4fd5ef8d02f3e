#!/usr/bin/env python3
"""Writes a reproducible OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md).

tests/image/build calls it; crane pushes the result (`crane push --index`). The output is a pure
function of the arguments and of the listed files' contents: layer tarballs have sorted entries,
mtime 0, explicit owners and modes, no user/group names and no extended headers (ustar); gzip has no
name and mtime 0; JSON is compact with sorted keys. The top-level index.json is the image index
that gets pushed, so its sha256 is the digest to pin (printed on stdout).

A layer is described by a list file, one entry per line, fields separated by tabs:

    h  TEXT                          the layer's history `created_by`
    d  PATH  MODE  UID  GID          directory (MODE in octal)
    f  PATH  MODE  UID  GID  SOURCE  regular file with SOURCE's content
    l  PATH  TARGET                  symbolic link (owned by 0:0)

PATH is relative to the image root. A missing parent directory is added as 0755 0:0.

    oci_layout.py OUT --created RFC3339 [--label K=V]... [--annotation K=V]...
                  [--user U] [--entrypoint ARG]... [--cmd ARG]... [--env K=V]...
                  --image OS/ARCH LIST [LIST...]     (once per platform)
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MTIME = 0


def fail(msg):
    print(f"[image] error: {msg}", file=sys.stderr)
    sys.exit(1)


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def key_values(pairs, what):
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"{what} {pair!r} is not KEY=VALUE")
        out[key] = value
    return out


class Layout:
    def __init__(self, root):
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)

    def put(self, data, media_type, **extra):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.blobs, digest), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data), **extra}

    def put_file(self, path, media_type):
        h = hashlib.sha256()
        size = 0
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
        digest = h.hexdigest()
        os.replace(path, os.path.join(self.blobs, digest))
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": size}


def read_list(path):
    """Parses a layer list into (history text, {path: entry})."""
    history = None
    entries = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t")
            kind, rest = fields[0], fields[1:]
            where = f"{path}:{number}"
            if kind == "h":
                history = "\t".join(rest)
                continue
            if not rest:
                fail(f"{where}: no path")
            name = rest[0].strip("/")
            if not name or ".." in name.split("/"):
                fail(f"{where}: bad path {rest[0]!r}")
            if kind == "d" and len(rest) == 4:
                entry = ("d", int(rest[1], 8), int(rest[2]), int(rest[3]), None)
            elif kind == "f" and len(rest) == 5:
                entry = ("f", int(rest[1], 8), int(rest[2]), int(rest[3]), rest[4])
            elif kind == "l" and len(rest) == 2:
                entry = ("l", 0o777, 0, 0, rest[1])
            else:
                fail(f"{where}: cannot parse {line!r}")
            if entries.get(name, entry) != entry:
                fail(f"{where}: {name} listed twice, differently")
            entries[name] = entry
    for name in list(entries):
        parent = os.path.dirname(name)
        while parent:
            entries.setdefault(parent, ("d", 0o755, 0, 0, None))
            parent = os.path.dirname(parent)
    for name, (kind, *_rest) in entries.items():
        parent = os.path.dirname(name)
        if parent and entries[parent][0] != "d":
            fail(f"{path}: {name} is inside {parent}, which is not a directory")
    return history, entries


def write_layer(entries, tar_path):
    """Writes the uncompressed tarball; returns its sha256 hex digest and size."""
    with open(tar_path, "wb") as out:
        with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
            for name in sorted(entries):
                kind, mode, uid, gid, arg = entries[name]
                info = tarfile.TarInfo(name)
                info.mode, info.uid, info.gid = mode, uid, gid
                info.uname = info.gname = ""
                info.mtime = MTIME
                if kind == "d":
                    info.type = tarfile.DIRTYPE
                    tar.addfile(info)
                elif kind == "l":
                    info.type = tarfile.SYMTYPE
                    info.linkname = arg
                    tar.addfile(info)
                else:
                    info.type = tarfile.REGTYPE
                    info.size = os.path.getsize(arg)
                    with open(arg, "rb") as f:
                        tar.addfile(info, f)
    h = hashlib.sha256()
    with open(tar_path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest(), os.path.getsize(tar_path)


def compress(tar_path, gz_path):
    with open(tar_path, "rb") as src, open(gz_path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as gz:
            shutil.copyfileobj(src, gz, 1 << 20)
    os.remove(tar_path)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out")
    p.add_argument("--created", required=True)
    p.add_argument("--label", action="append", default=[])
    p.add_argument("--annotation", action="append", default=[])
    p.add_argument("--user")
    p.add_argument("--entrypoint", action="append", default=[])
    p.add_argument("--cmd", action="append", default=[])
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--image", action="append", nargs="+", required=True, metavar="OS/ARCH LIST")
    args = p.parse_args()

    if os.path.exists(args.out) and os.listdir(args.out):
        fail(f"{args.out} exists and is not empty")
    layout = Layout(args.out)
    labels = key_values(args.label, "label")
    annotations = key_values(args.annotation, "annotation")
    key_values(args.env, "env")

    manifests = []
    sizes = {}
    for image in args.image:
        if len(image) < 2:
            fail("--image needs OS/ARCH and at least one layer list")
        platform, lists = image[0], image[1:]
        os_name, sep, arch = platform.partition("/")
        if not sep or "/" in arch:
            fail(f"platform {platform!r} is not OS/ARCH")
        layers, diff_ids, history = [], [], []
        uncompressed = 0
        for i, list_path in enumerate(lists):
            text, entries = read_list(list_path)
            tar_path = os.path.join(args.out, f"layer-{len(manifests)}-{i}.tar")
            diff_id, size = write_layer(entries, tar_path)
            uncompressed += size
            compress(tar_path, tar_path + ".gz")
            layers.append(layout.put_file(tar_path + ".gz", MEDIA_LAYER))
            diff_ids.append(f"sha256:{diff_id}")
            step = {"created": args.created}
            if text:
                step["created_by"] = text
            history.append(step)
        config = {"Labels": labels}
        if args.user:
            config["User"] = args.user
        if args.entrypoint:
            config["Entrypoint"] = args.entrypoint
        if args.cmd:
            config["Cmd"] = args.cmd
        if args.env:
            config["Env"] = args.env
        config_blob = canonical({
            "architecture": arch,
            "os": os_name,
            "created": args.created,
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        })
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": layout.put(config_blob, MEDIA_CONFIG),
            "layers": layers,
        }
        if annotations:
            manifest["annotations"] = annotations
        manifest_blob = canonical(manifest)
        manifests.append(layout.put(manifest_blob, MEDIA_MANIFEST,
                                    platform={"architecture": arch, "os": os_name}))
        compressed = sum(l["size"] for l in layers) + len(config_blob) + len(manifest_blob)
        sizes[platform] = (compressed, uncompressed)

    index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests}
    if annotations:
        index["annotations"] = annotations
    index_blob = canonical(index)
    with open(os.path.join(args.out, "index.json"), "wb") as f:
        f.write(index_blob)
    with open(os.path.join(args.out, "oci-layout"), "wb") as f:
        f.write(canonical({"imageLayoutVersion": "1.0.0"}))
    for platform, (compressed, uncompressed) in sizes.items():
        print(f"[image] {platform}: {compressed} bytes compressed (layers, config, manifest), "
              f"{uncompressed} bytes of layer tarballs uncompressed", file=sys.stderr)
    print(f"sha256:{hashlib.sha256(index_blob).hexdigest()}")


if __name__ == "__main__":
    main()
