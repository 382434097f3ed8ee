#!/usr/bin/env python3
"""Compares the KV-v2 secrets and ACL policies of two Vault/OpenBao servers through the API.

usage: compare.py SRC_ADDR SRC_TOKEN DST_ADDR DST_TOKEN
Prints one line per kind and exits 1 on any difference. Never prints secret values.
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def call(addr, token, path, list_=False):
    url = addr + "/v1/" + urllib.parse.quote(path, safe="/") + ("?list=true" if list_ else "")
    req = urllib.request.Request(url, headers={"X-Vault-Token": token})
    try:
        with urllib.request.urlopen(req) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return None
        raise


def snapshot(addr, token):
    out = {}
    mounts = call(addr, token, "sys/mounts")["data"]
    for m, info in mounts.items():
        if info["type"] != "kv" or (info.get("options") or {}).get("version") != "2":
            continue
        if info.get("local"):
            continue  # local mounts (the importer's bookkeeping among them) are not replicated
        folders = [""]
        while folders:
            prefix = folders.pop()
            listing = call(addr, token, f"{m}metadata/{prefix}", list_=True)
            for k in (listing or {}).get("data", {}).get("keys", []):
                if k.endswith("/"):
                    folders.append(prefix + k)
                else:
                    data = call(addr, token, f"{m}data/{prefix}{k}")
                    out[("kv_secret", m + prefix + k)] = data and data["data"]["data"]
    for name in call(addr, token, "sys/policies/acl", list_=True)["data"]["keys"]:
        if name != "root":
            out[("policy", name)] = call(addr, token, f"sys/policies/acl/{name}")["data"]["policy"]
    return out


def main():
    src_addr, src_token, dst_addr, dst_token = sys.argv[1:5]
    src, dst = snapshot(src_addr, src_token), snapshot(dst_addr, dst_token)
    bad = 0
    for kind in ("policy", "kv_secret"):
        keys = sorted({k for k in src.keys() | dst.keys() if k[0] == kind})
        diff = [k[1] for k in keys if src.get(k) != dst.get(k)]
        bad += len(diff)
        status = "identical" if not diff else f"{len(diff)} differ: {', '.join(diff[:5])}"
        print(f"{kind:<10} {len(keys):>4} objects  {status}")
    if bad:
        sys.exit(1)
    print("DC and DR match.")


if __name__ == "__main__":
    main()
