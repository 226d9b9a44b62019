#!/usr/bin/python3
"""A vendor's consumer of a Wardline relay feed over gRPC (Feeds.Subscribe).

It reads one feed from its own cursor, follows the live tail, and writes each
event it processed as one JSON line to an output file. What it shows:

- The cursor file is the truth: the seq of the last event processed, written
  atomically (temp file, fsync, rename, fsync of the directory). With
  --consumer it is also committed to the relay (Feeds.Commit), so the relay's
  status page shows how far this consumer has read; the relay's copy is never
  read back.
- The output line of an event is written (and fsynced) before the cursor that
  covers it. A crash between the two leaves the output one step ahead; on
  start the consumer takes the larger of the cursor file and the last seq in
  the output file, so no event is processed twice.
- Continuity: each event's prev_seq must equal the seq of the last event
  processed (0 at the start). A mismatch is a gap: the consumer stops with
  exit code 3 and names both seqs.
- Heartbeats are logged with the feed's high-water mark and caught_up.
- UNAVAILABLE or a lost connection: reconnect with backoff and resume after
  the cursor. Refusals (bad key, feed not granted, cursor out of range) stop
  with exit code 2 and the relay's WL_ code.
- SIGTERM or SIGINT: the current event is finished, the cursor saved, exit 0.

Stubs are generated at run time from protocol/wardline/v1/wardline.proto with
grpc_tools.protoc into --stubs-dir (see README.md). Logs go to stdout as JSON
lines.
"""

import argparse
import importlib
import json
import os
import queue
import random
import re
import shutil
import signal
import sys
import tempfile
import threading
import time

import grpc

EXIT_REFUSED = 2
EXIT_GAP = 3
ERROR_CODE_TRAILER = "wardline-error-code"
# Status codes after which the same request can succeed later: reconnect.
RETRYABLE = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.CANCELLED,
}
DEFAULT_PROTO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "protocol", "wardline", "v1", "wardline.proto")


def log(kind, **fields):
    print(json.dumps({"t": round(time.time(), 3), kind: fields}, separators=(",", ":")), flush=True)


class Fatal(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


# --- stubs -------------------------------------------------------------------


# protoc before 3.15 (Debian's python3-grpc-tools bundles 3.5) refuses proto3
# `optional`. Such a field is, on the wire and in the generated code, a oneof
# holding just that field, so the .proto is compiled with each one written so:
# SubscribeRequest.after keeps its presence (after=0 is sent, and differs from
# no cursor at all).
OPTIONAL_FIELD = re.compile(r"^(\s*)optional\s+([\w.]+)\s+(\w+)\s*=\s*(\d+)\s*;", re.MULTILINE)


def load_stubs(proto, stubs_dir):
    """wardline_pb2 and wardline_pb2_grpc, generated into stubs_dir when missing or older than the .proto."""
    proto = os.path.abspath(proto)
    if not os.path.isfile(proto):
        raise Fatal(EXIT_REFUSED, f"--proto: {proto} does not exist")
    os.makedirs(stubs_dir, exist_ok=True)
    generated = os.path.join(stubs_dir, "wardline_pb2_grpc.py")
    if not os.path.exists(generated) or os.path.getmtime(generated) < os.path.getmtime(proto):
        from grpc_tools import protoc

        # Generated in a fresh directory and renamed in, so two consumers starting together never import half a file.
        scratch = tempfile.mkdtemp(dir=stubs_dir)
        with open(proto, encoding="utf-8") as f:
            text = OPTIONAL_FIELD.sub(r"\1oneof _\3 { \2 \3 = \4; }", f.read())
        with open(os.path.join(scratch, "wardline.proto"), "w", encoding="utf-8") as f:
            f.write(text)
        args = ["protoc", f"-I{scratch}", f"--python_out={scratch}", f"--grpc_python_out={scratch}", "wardline.proto"]
        if protoc.main(args) != 0:
            raise Fatal(EXIT_REFUSED, f"grpc_tools.protoc could not compile {proto}")
        for name in ("wardline_pb2.py", "wardline_pb2_grpc.py"):
            os.replace(os.path.join(scratch, name), os.path.join(stubs_dir, name))
        shutil.rmtree(scratch)
    sys.path.insert(0, stubs_dir)
    return importlib.import_module("wardline_pb2"), importlib.import_module("wardline_pb2_grpc")


# --- cursor and output -------------------------------------------------------


def fsync_dir(path):
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_cursor(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return 0
    try:
        seq = json.loads(text)["seq"]
        if not isinstance(seq, int) or seq < 0:
            raise ValueError
        return seq
    except (ValueError, KeyError, TypeError):
        raise Fatal(EXIT_REFUSED, f"--cursor-file: {path} does not hold {{\"seq\": <non-negative integer>}}: {text[:80]!r}")


def write_cursor(path, seq):
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix=".cursor-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps({"seq": seq}) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    fsync_dir(path)


def last_output_seq(path):
    """The seq of the last complete line of the output file (0 if none); a torn last line is cut off."""
    try:
        with open(path, "rb+") as f:
            data = f.read()
            end = data.rfind(b"\n") + 1
            if end < len(data):
                # A line without its newline was being written when the process died: it was not processed.
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
                log("torn_line_cut", file=path, bytes=len(data) - end)
    except FileNotFoundError:
        return 0
    lines = data[:end].splitlines()
    if not lines:
        return 0
    try:
        return int(json.loads(lines[-1])["seq"])
    except (ValueError, KeyError, TypeError):
        raise Fatal(EXIT_REFUSED, f"--out: the last line of {path} is not an event line: {lines[-1][:80]!r}")


# --- the consumer ------------------------------------------------------------


class Consumer:
    def __init__(self, args, pb, pb_grpc):
        self.args = args
        self.pb = pb
        self.pb_grpc = pb_grpc
        self.stopping = threading.Event()
        from_cursor = read_cursor(args.cursor_file)
        from_out = last_output_seq(args.out)
        # The output is written before the cursor: if it is ahead, those events were processed.
        self.last_seq = max(from_cursor, from_out)
        self.saved_seq = from_cursor
        log("resume", cursor_file=from_cursor, out_file=from_out, after=self.last_seq)
        self.out = open(args.out, "a", encoding="utf-8")
        self.unsynced = 0
        self.committed_seq = None
        self.last_commit_at = 0.0
        self.events = 0
        self.heartbeats = 0
        self.reconnects = 0
        self.caught_up = False
        self.last_activity = time.monotonic()
        self.metadata = (("authorization", f"Bearer {args.key}"),)
        self.channel = None
        self.stub = None

    # The channel is made anew after each failure, so a relay that came back on the same address is dialled afresh.
    def connect(self):
        if self.channel is not None:
            self.channel.close()
        if self.args.ca:
            with open(self.args.ca, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
            options = [("grpc.ssl_target_name_override", self.args.server_name)] if self.args.server_name else []
            self.channel = grpc.secure_channel(self.args.target, credentials, options=options)
        else:
            self.channel = grpc.insecure_channel(self.args.target)
        self.stub = self.pb_grpc.FeedsStub(self.channel)

    def subscribe(self):
        request = self.pb.SubscribeRequest(
            feed=self.args.feed,
            after=self.last_seq,
            follow=True,
            hospital_id=self.args.hospital or "",
            consumer=self.args.consumer or "",
            heartbeat_ms=self.args.heartbeat_ms,
        )
        return self.stub.Subscribe(request, metadata=self.metadata)

    def run(self):
        backoff = self.args.backoff_min
        self.connect()
        while not self.stopping.is_set():
            call = self.subscribe()
            messages = queue.Queue(maxsize=1000)
            reader = threading.Thread(target=read_stream, args=(call, messages), daemon=True)
            reader.start()
            outcome, progressed = self.consume(messages)
            call.cancel()
            if outcome == "stop":
                break
            if progressed:
                backoff = self.args.backoff_min
            error = outcome
            if error is not None and error.code() not in RETRYABLE:
                raise Fatal(EXIT_REFUSED, describe_refusal(error, self.args))
            self.save()
            self.reconnects += 1
            self.caught_up = False
            delay = backoff * (0.5 + random.random() / 2)
            log("reconnect", after=self.last_seq, in_s=round(delay, 3), reason=error.code().name if error is not None else "stream ended")
            if self.stopping.wait(delay):
                break
            backoff = min(backoff * 2, self.args.backoff_max)
            self.connect()
        self.save(commit=True)
        self.out.close()
        log("stopped", last_seq=self.last_seq, events=self.events, heartbeats=self.heartbeats, reconnects=self.reconnects)

    def consume(self, messages):
        """Processes messages until a stop ("stop") or the stream's end (its RpcError, None if it ended cleanly), and whether events came."""
        progressed = False
        while True:
            if self.stopping.is_set():
                return "stop", progressed
            try:
                kind, item = messages.get(timeout=0.2)
            except queue.Empty:
                self.save_if_idle()
                if self.idle_long_enough():
                    log("idle", seconds=self.args.stop_after_idle_seconds, last_seq=self.last_seq)
                    return "stop", progressed
                continue
            if kind == "end":
                return item, progressed
            if item.HasField("heartbeat"):
                self.on_heartbeat(item.heartbeat)
            else:
                self.on_event(item)
                progressed = True
            if messages.empty() or self.unsynced >= self.args.save_every:
                self.save()

    def on_event(self, message):
        event = message.event
        if message.prev_seq != self.last_seq:
            self.save(commit=True)
            raise Fatal(
                EXIT_GAP,
                f"continuity broken on feed {self.args.feed}: event seq {event.seq} has prev_seq {message.prev_seq}, "
                f"but the last event processed was seq {self.last_seq}; events between them are missing",
            )
        line = {"seq": event.seq, "prev_seq": message.prev_seq, "stream": event.stream, "key": event.key, "op": self.pb.Op.Name(event.op)}
        self.out.write(json.dumps(line, separators=(",", ":")) + "\n")
        self.out.flush()
        self.unsynced += 1
        self.last_seq = event.seq
        self.events += 1
        self.caught_up = False
        self.last_activity = time.monotonic()
        if self.args.pause_ms:
            time.sleep(self.args.pause_ms / 1000)

    def on_heartbeat(self, beat):
        self.heartbeats += 1
        was = self.caught_up
        self.caught_up = beat.caught_up
        if beat.caught_up and not was:
            self.last_activity = time.monotonic()
        log("heartbeat", high_water=beat.high_water, cursor=beat.cursor, caught_up=beat.caught_up, last_seq=self.last_seq)
        self.save(commit=True)

    def idle_long_enough(self):
        limit = self.args.stop_after_idle_seconds
        return limit is not None and self.caught_up and time.monotonic() - self.last_activity >= limit

    def save_if_idle(self):
        if self.unsynced or self.saved_seq != self.last_seq:
            self.save()

    def save(self, commit=False):
        """Output fsynced, then the cursor file, then (at most every --commit-interval) the relay's copy."""
        if self.unsynced:
            os.fsync(self.out.fileno())
            self.unsynced = 0
        if self.saved_seq != self.last_seq:
            write_cursor(self.args.cursor_file, self.last_seq)
            self.saved_seq = self.last_seq
        due = time.monotonic() - self.last_commit_at >= self.args.commit_interval
        if self.args.consumer and self.committed_seq != self.saved_seq and (commit or due):
            self.commit()

    def commit(self):
        request = self.pb.CommitRequest(feed=self.args.feed, hospital_id=self.args.hospital or "", consumer=self.args.consumer, cursor=self.saved_seq)
        self.last_commit_at = time.monotonic()
        try:
            self.stub.Commit(request, metadata=self.metadata, timeout=2)
            self.committed_seq = self.saved_seq
        except grpc.RpcError as error:
            # The relay's copy is for its status page; the cursor file already holds the truth.
            log("commit_failed", cursor=self.saved_seq, code=error.code().name, details=error.details())


def read_stream(call, messages):
    """Feeds the stream's messages to the queue, then ("end", error or None)."""
    try:
        for message in call:
            messages.put(("message", message))
        messages.put(("end", None))
    except grpc.RpcError as error:
        messages.put(("end", error))


def describe_refusal(error, args):
    trailers = dict(error.trailing_metadata() or ())
    code = trailers.get(ERROR_CODE_TRAILER, "")
    extra = ""
    if "wardline-high-water" in trailers:
        extra = f" (feed high-water {trailers['wardline-high-water']}, retention floor {trailers.get('wardline-retention-floor', '0')})"
    return f"the relay refused Subscribe to feed {args.feed}: {error.code().name} {code}: {error.details()}{extra}"


def parse_args(argv):
    parser = argparse.ArgumentParser(description="Read a Wardline relay feed over gRPC with a cursor file, a continuity check and reconnects.")
    parser.add_argument("--target", required=True, help="the relay's gRPC address, host:port")
    parser.add_argument("--key", default=os.environ.get("WARDLINE_VENDOR_KEY"), help="the vendor key (default $WARDLINE_VENDOR_KEY)")
    parser.add_argument("--feed", required=True)
    parser.add_argument("--hospital", help="needed only when the key is granted this feed at several hospitals")
    parser.add_argument("--ca", help="PEM CA certificate: connect with TLS (default: plaintext)")
    parser.add_argument("--server-name", help="with --ca: the name the relay's certificate carries, when --target is an IP address")
    parser.add_argument("--cursor-file", required=True, help='where the cursor is kept, {"seq": N}')
    parser.add_argument("--out", required=True, help="each processed event is appended as one JSON line")
    parser.add_argument("--consumer", help="a consumer name: the cursor is also committed to the relay under it")
    parser.add_argument("--stop-after-idle-seconds", type=float, help="exit 0 once caught up and idle this long")
    parser.add_argument("--heartbeat-ms", type=int, default=1000, help="the longest the relay stays silent (100 to 60000)")
    parser.add_argument("--save-every", type=int, default=200, help="save the cursor at least every N events")
    parser.add_argument("--commit-interval", type=float, default=1.0, help="seconds between commits to the relay")
    parser.add_argument("--backoff-min", type=float, default=0.2)
    parser.add_argument("--backoff-max", type=float, default=5.0)
    parser.add_argument("--pause-ms", type=float, default=0, help="sleep after each event (stands for slow processing)")
    parser.add_argument("--proto", default=DEFAULT_PROTO, help="wardline.proto (default: the one in this repository)")
    parser.add_argument("--stubs-dir", default=os.environ.get("WARDLINE_STUBS_DIR") or os.path.join(tempfile.gettempdir(), "wardline-python-stubs"))
    args = parser.parse_args(argv)
    if not args.key:
        parser.error("--key (or $WARDLINE_VENDOR_KEY) is required")
    if not 100 <= args.heartbeat_ms <= 60000:
        parser.error(f"--heartbeat-ms: expected 100 to 60000, got {args.heartbeat_ms}")
    if args.save_every < 1:
        parser.error(f"--save-every: expected at least 1, got {args.save_every}")
    return args


def main(argv):
    args = parse_args(argv)
    try:
        pb, pb_grpc = load_stubs(args.proto, args.stubs_dir)
        consumer = Consumer(args, pb, pb_grpc)
    except Fatal as error:
        print(f"consumer.py: {error}", file=sys.stderr)
        return error.code

    def stop(signum, _frame):
        log("signal", name=signal.Signals(signum).name)
        consumer.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        consumer.run()
    except Fatal as error:
        print(f"consumer.py: {error}", file=sys.stderr)
        return error.code
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
