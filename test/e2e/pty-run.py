#!/usr/bin/env python3
"""Runs a command in a pseudo-terminal and answers its prompts.

Usage: pty-run.py TIMEOUT_SECONDS SCRIPT_JSON -- COMMAND...
SCRIPT_JSON is a list of {"expect": "<regex>", "send": "<keys>"} applied in order. Prints the
whole terminal transcript and exits with the command's exit code (124 on timeout).
PTY_SIZE=ROWS,COLS sets the terminal size (default 40,160; 0 columns is what some CI wrappers report).
"""
import fcntl, json, os, pty, re, select, struct, sys, termios, time

def main():
    timeout = float(sys.argv[1])
    script = json.loads(sys.argv[2])
    cmd = sys.argv[sys.argv.index('--') + 1:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    rows, cols = (int(x) for x in os.environ.get('PTY_SIZE', '40,160').split(','))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    transcript = b''
    deadline = time.time() + timeout
    step = 0
    scanned = 0
    while True:
        if time.time() > deadline:
            os.kill(pid, 9)
            sys.stdout.write(transcript.decode('utf-8', 'replace'))
            sys.exit(124)
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                data = b''
            if not data:
                break
            transcript += data
        if step < len(script):
            text = transcript[scanned:].decode('utf-8', 'replace')
            m = re.search(script[step]['expect'], text)
            if m:
                scanned += len(text[:m.end()].encode('utf-8'))
                time.sleep(0.3)
                os.write(fd, script[step]['send'].encode())
                step += 1
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(transcript.decode('utf-8', 'replace'))
    sys.exit(os.waitstatus_to_exitcode(status))

main()
