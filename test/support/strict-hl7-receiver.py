#!/usr/bin/env python3
"""A strict HL7 v2 MLLP receiver, as an engine that honours MSH-18 (Mirth, HAPI) behaves.

Listens on 127.0.0.1 (port from argv[1], default 0), prints {"listening": PORT} first,
then one JSON line per frame: {"controlId", "charset", "codec", "pid5"} or {"error"}.
The codec comes from MSH-18 alone: 'UNICODE UTF-8' -> utf-8, 'GB 18030-2000' -> gb18030,
'GBK' -> gbk, empty -> ascii (strict); anything else is an error. Decoding is strict:
bytes that are not valid in the declared charset are an error, never replaced.
Answers each frame with a minimal ACK (AA, or AE on error). Standard library only.
"""
import json
import socket
import sys

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"
CODECS = {"UNICODE UTF-8": "utf-8", "GB 18030-2000": "gb18030", "GBK": "gbk", "": "ascii"}


def emit(obj):
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def msh18(frame):
    """MSH-18 (first repetition, first component) from the raw bytes of MSH."""
    segment = frame.split(CR, 1)[0]
    if not segment.startswith(b"MSH") or len(segment) < 8:
        raise ValueError("frame does not start with MSH")
    field = segment[3:4]
    component, repetition = segment[4:5], segment[5:6]
    fields = segment.split(field)
    value = fields[17] if len(fields) > 17 else b""
    value = value.split(repetition)[0].split(component)[0]
    return value.decode("ascii").strip()


def handle(frame):
    charset = msh18(frame)
    codec = CODECS.get(charset)
    if codec is None:
        raise ValueError("unknown MSH-18 %r" % charset)
    text = frame.decode(codec, errors="strict")
    segments = [s for s in text.split("\r") if s]
    msh = segments[0].split(text[3])
    pid5 = None
    for seg in segments:
        if seg.startswith("PID"):
            parts = seg.split(text[3])
            pid5 = parts[5] if len(parts) > 5 else ""
    return {"controlId": msh[9] if len(msh) > 9 else "", "charset": charset, "codec": codec, "pid5": pid5}


def ack(code, control_id):
    text = "MSH|^~\\&|STRICT|RX|||20240101000000||ACK|%s|P|2.5\rMSA|%s|%s\r" % ("RX" + control_id, code, control_id)
    return SB + text.encode("ascii", errors="replace") + EB + CR


def serve(conn):
    buffer = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        buffer += data
        while EB + CR in buffer:
            raw, buffer = buffer.split(EB + CR, 1)
            frame = raw[raw.find(SB) + 1:] if SB in raw else raw
            try:
                result = handle(frame)
                emit(result)
                conn.sendall(ack("AA", result["controlId"]))
            except Exception as err:  # a strict receiver refuses; it never guesses
                emit({"error": "%s: %s" % (type(err).__name__, err)})
                conn.sendall(ack("AE", ""))


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(8)
    emit({"listening": server.getsockname()[1]})
    while True:
        conn, _ = server.accept()
        with conn:
            serve(conn)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
