"""Finding the command that really runs under assignments, keywords and wrappers.

`FOO=1 sudo -u x timeout 5 env rm -rf y` runs `rm -rf y` (as another user); `xargs rm`
runs `rm` on words read from its input, which stand in as unknown words. Wrappers can
also run shell code (`flock f -c CODE`, `script -c CODE`, `watch CODE`), move to another
folder (`env -C DIR`) or write a file (`time -o FILE`); `Unwrapped` keeps all of that.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from .shell_syntax import Word

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\+?=")
_KEYWORDS = frozenset({"!", "{", "}", "if", "then", "else", "elif", "fi", "do", "done",
                       "while", "until", "esac"})
_NOT_RUN = frozenset({"for", "case", "select", "function", "in"})
PRIVILEGED = frozenset({"sudo", "su", "doas", "pkexec", "runuser", "sudoedit", "sg", "nsenter",
                        "chroot"})
# setpriv and systemd-run change the user only with these options.
_USER_OPTIONS = frozenset({"--reuid", "--ruid", "--euid", "--regid", "--rgid", "--egid", "--uid",
                           "--gid", "--system"})


@dataclass(frozen=True)
class Wrapper:
    """How a command that runs another one reads its own arguments."""

    values: frozenset[str] = frozenset()  # options that take a value
    positionals: int = 0  # words before the command (the duration of `timeout`)
    code: frozenset[str] = frozenset()  # options whose value is shell code (`-c`)
    chdir: frozenset[str] = frozenset()  # options whose value is the folder it runs in
    writes: frozenset[str] = frozenset()  # options whose value is a file it writes
    joins: bool = False  # runs its arguments joined into one line of shell code (watch)
    late_options: bool = False  # options may follow the positionals (`flock FILE -c CODE`)
    subcommand: str = ""  # a wrapper only with this subcommand (`uv run`)
    runs_rest: bool = True  # False: the words left are files it writes (`script FILE`)


def _w(values: str = "", *, code: str = "", chdir: str = "", writes: str = "",
       **kwargs: object) -> Wrapper:
    return Wrapper(frozenset(values.split()), code=frozenset(code.split()),
                   chdir=frozenset(chdir.split()), writes=frozenset(writes.split()),
                   **kwargs)  # type: ignore[arg-type]


_WRAPPERS: dict[str, Wrapper] = {
    "env": _w("-u --unset -a --argv0", code="-S --split-string", chdir="-C --chdir"),
    "command": _w(),
    "builtin": _w(),
    "exec": _w("-a"),
    "nice": _w("-n --adjustment"),
    "nohup": _w(),
    "time": _w("-f --format", writes="-o --output"),
    "timeout": _w("-s --signal -k --kill-after", positionals=1),
    "stdbuf": _w("-i -o -e --input --output --error"),
    "ionice": _w("-c -n -p -P -u --class --classdata --pid --pgid --uid"),
    "chrt": _w("-T -P -D --sched-runtime --sched-period --sched-deadline", positionals=1),
    "taskset": _w(positionals=1),
    "setsid": _w(),
    "coproc": _w(),
    "setpriv": _w("--reuid --ruid --euid --regid --rgid --egid --groups --inh-caps "
                  "--ambient-caps --bounding-set --securebits --pdeathsig --selinux-label "
                  "--apparmor-profile --landlock-access --landlock-rule"),
    "flock": _w("-w --timeout -E --conflict-exit-code", code="-c --command", positionals=1,
                late_options=True),
    "script": _w("-E --echo -m --logging-format -t --timing", code="-c --command",
                 writes="-I --log-in -O --log-out -B --log-io -T --log-timing", runs_rest=False),
    "unshare": _w("-S --setuid -G --setgid --map-user --map-group --map-users --map-groups "
                  "--propagation --setgroups -R --root", chdir="-w --wd"),
    "firejail": _w(),
    "watch": _w("-n --interval -q --equexit", joins=True),
    "busybox": _w(),
    "toybox": _w(),
    "xvfb-run": _w("-n --server-num -s --server-args -f --auth-file -e --error-file -p "
                   "--xauth-protocol"),
    "dbus-run-session": _w("--config-file --dbus-daemon"),
    "strace": _w("-e -p -s -u -E -I -b -a -X -P -S -O", writes="-o --output"),
    "ltrace": _w("-e -p -s -u -a -n -l -L", writes="-o --output"),
    "fakeroot": _w("-l --lib -s -i -b --faked"),
    "prlimit": _w("-p --pid"),
    "numactl": _w("-C --physcpubind -N --cpunodebind -m --membind -p --preferred -i "
                  "--interleave"),
    "cgexec": _w("-g"),
    "faketime": _w("-f -m", positionals=1),
    "torsocks": _w("-u -p -a -P"),
    "proxychains": _w("-f"),
    "proxychains4": _w("-f"),
    "unbuffer": _w(),
    "catchsegv": _w(),
    "chronic": _w(),
    "ifne": _w(),
    "setarch": _w(positionals=1),
    "linux32": _w(),
    "linux64": _w(),
    "caffeinate": _w("-t -w"),
    "ssh-agent": _w("-a -E -t -P"),
    "systemd-run": _w("-u --unit -p --property --description --slice -E --setenv -M --machine "
                      "-H --host --on-active --on-boot --on-startup --on-unit-active "
                      "--on-unit-inactive --on-calendar --uid --gid --nice",
                      chdir="--working-directory"),
    "sudo": _w("-u -g -C -h -p -r -t -U -T --user --group --host --prompt", chdir="-D --chdir"),
    "su": _w("-s --shell -g --group -G --supp-group -w --whitelist-environment",
             code="-c --command --session-command"),
    "sg": _w(code="-c", positionals=1, late_options=True),
    "doas": _w("-u -C"),
    "pkexec": _w("--user"),
    "runuser": _w("-u -g -G --user --group --supp-group -s --shell", code="-c --command"),
    "nsenter": _w("-t --target -S --setuid -G --setgid", chdir="-w --wd"),
    "chroot": _w("--userspec --groups", positionals=1),
    # Project runners: `uv run CMD` runs CMD.
    "uv": _w("--with -w --python -p --extra --group --package --env-file --index "
             "--with-requirements", chdir="--directory", subcommand="run"),
    "poetry": _w("-P --project", chdir="-C --directory", subcommand="run"),
    "pipenv": _w(subcommand="run"),
    "pdm": _w("-p --project", subcommand="run"),
    "bundle": _w(subcommand="exec"),
    "conda": _w("-n --name -p --prefix", chdir="--cwd", subcommand="run"),
    "mamba": _w("-n --name -p --prefix", chdir="--cwd", subcommand="run"),
    "micromamba": _w("-n --name -p --prefix", chdir="--cwd", subcommand="run"),
    "pixi": _w("-e --environment --manifest-path", subcommand="run"),
}
KNOWN_WRAPPERS = frozenset({*_WRAPPERS, "xargs", "parallel"})
# Commands that print, search or declare their arguments and never run them.
NEVER_RUN_ARGUMENTS = frozenset("""
    echo printf grep egrep fgrep rg ag ack man info which type whatis whereis apropos help tldr
    test [ [[ true false logger jq yq cat head tail less more wc sort uniq diff cut tr ls stat
    file du df date sleep seq expr bc column fold fmt nl paste join comm cmp basename dirname
    realpath readlink printenv export declare typeset local readonly unset set alias read
    hash complete compgen md5sum sha1sum sha256sum base64 base32 od hexdump xxd strings
    """.split())
_XARGS_VALUE_OPTIONS = frozenset({"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file",
                                  "--delimiter", "--eof", "--max-lines", "--max-args",
                                  "--max-procs", "--max-chars", "--process-slot-var"})


@dataclass
class Unwrapped:
    """The command that runs (empty: none does), and what its wrappers do besides.

    `privileged` names the wrapper that runs it as another user; `code` holds shell code
    the wrappers run, `chdirs` the folders they move to (in order), `writes` the files
    they write, `assignments` the `NAME=value` words they set.
    """

    words: list[Word]
    privileged: str | None = None
    code: list[Word] = field(default_factory=list)
    chdirs: list[Word] = field(default_factory=list)
    writes: list[Word] = field(default_factory=list)
    assignments: list[Word] = field(default_factory=list)


def command_name(word: Word) -> str:
    """The name a command word runs: `/usr/bin/rm` is `rm`."""
    return posixpath.basename(word.text)


def _value(word: Word, text: str) -> Word:
    """An option's attached value as a word of its own."""
    unknown = word.unknown and ("$" in text or "`" in text)
    return Word(text, word.raw if unknown else text, unknown=unknown, glob=word.glob,
                brace=word.brace, subs=word.subs)


def _option(args: list[Word], i: int, spec: Wrapper, into: Unwrapped) -> int | None:
    """Reads the option at `args[i]`; the index after it, or None when it is not one."""
    text = args[i].text
    if not text.startswith("-") or text == "-":
        return None
    if text.startswith("--"):
        name, equals, rest = text.partition("=")
        found = [(name, _value(args[i], rest) if equals else None)]
    else:
        found = []
        for k, letter in enumerate(text[1:], start=1):
            name = "-" + letter
            if name in spec.values | spec.code | spec.chdir | spec.writes:
                attached = text[k + 1:]
                found.append((name, _value(args[i], attached) if attached else None))
                break
        else:
            return i + 1
    name, value = found[0]
    needs = name in spec.values | spec.code | spec.chdir | spec.writes
    if needs and value is None:
        if i + 1 >= len(args):
            return len(args)
        value, i = args[i + 1], i + 1
    if value is not None:
        target = (into.code if name in spec.code else into.chdirs if name in spec.chdir
                  else into.writes if name in spec.writes else None)
        if target is not None:
            target.append(value)
    return i + 1


def _unwrap_one(name: str, args: list[Word], into: Unwrapped) -> list[Word] | None:
    """The words a wrapper runs, or None when `name args` is not a wrapper call."""
    spec = _WRAPPERS[name]
    if name in ("setpriv", "systemd-run") and any(
            w.text.partition("=")[0] in _USER_OPTIONS for w in args):
        into.privileged = into.privileged or name
    i, seen, options_done, want_subcommand = 0, 0, False, bool(spec.subcommand)
    while i < len(args):
        if not options_done and args[i].text == "--":
            options_done, i = True, i + 1
            continue
        if not options_done and (seen == 0 or spec.late_options):
            after = _option(args, i, spec, into)
            if after is not None:
                i = after
                continue
        if want_subcommand:
            if args[i].text != spec.subcommand:
                return None
            want_subcommand, i = False, i + 1
            continue
        if seen < spec.positionals:
            seen, i = seen + 1, i + 1
            continue
        break
    rest = args[i:]
    if not spec.runs_rest:
        into.writes += rest
        return []
    if spec.joins and rest:
        text = " ".join(w.text for w in rest)
        into.code.append(Word(text, text, unknown=any(w.unknown for w in rest),
                              subs=[s for w in rest for s in w.subs]))
        return []
    if into.code:  # `flock f -c CODE`, `su -c CODE`: the code is what runs
        return []
    return rest


def _xargs_command(args: list[Word]) -> list[Word]:
    """The command xargs runs, its input standing in as unknown words."""
    replace, i = None, 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            i += 1
            break
        if not text.startswith("-") or text == "-":
            break
        if text == "-I" and i + 1 < len(args):
            replace = args[i + 1].text
        elif text.startswith("-I"):
            replace = text[2:]
        elif text.startswith(("-i", "--replace")):
            replace = text[2:] if text.startswith("-i") else text.partition("=")[2]
            replace = replace or "{}"
        i += 2 if text in _XARGS_VALUE_OPTIONS else 1
    return _with_input(args[i:], replace, "xargs")


def _parallel_command(args: list[Word]) -> list[Word]:
    """The command GNU parallel runs: the words before `:::`, with its inputs unknown."""
    i = 0
    while i < len(args) and args[i].text.startswith("-"):
        i += 1
    command = []
    for word in args[i:]:
        if word.text in (":::", "::::", ":::+", "::::+"):
            break
        command.append(word)
    return _with_input(command, "{", "parallel")


def _with_input(command: list[Word], replace: str | None, name: str) -> list[Word]:
    if not command:
        return []
    if replace:
        marked = [Word(w.text, w.raw, unknown=True) if replace in w.text else w for w in command]
        if marked != command:
            return marked
    return [*command, Word("", f"input of {name}", unknown=True)]


def unwrap(words: list[Word]) -> Unwrapped:
    """Strips assignments, keywords and wrapper commands down to the command that runs."""
    found = Unwrapped([])
    while words:
        first = words[0]
        name = command_name(first)
        if _ASSIGNMENT.match(first.raw):
            found.assignments.append(first)
            words = words[1:]
            continue
        if name in _KEYWORDS:
            words = words[1:]
            continue
        if name in _NOT_RUN or (name == "command" and words[1:2] and words[1].text in ("-v", "-V")):
            words = []
            break
        if name == "xargs":
            words = _xargs_command(words[1:])
            continue
        if name == "parallel":
            words = _parallel_command(words[1:])
            continue
        if first.unknown or name not in _WRAPPERS:
            break
        inner = _unwrap_one(name, words[1:], found)
        if inner is None:
            break
        if name in PRIVILEGED:
            found.privileged = found.privileged or name
        words = inner
    found.words = words
    return found
