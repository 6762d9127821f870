# shellcheck shell=bash
#
# Shared by image/boot-test*.sh (sourced, not run): boot a Segl image in
# QEMU (TCG, user networking, ports forwarded to 127.0.0.1 only) and talk to
# it from the host. The caller sets QEMU_CMD (an array: the emulator and its
# machine and firmware options, without disk, networking and console) and
# QEMU_NIC (the network device for netdev n0), optionally BOOT_MARKER (a
# string the boot loader prints on the serial console), then calls
# boot_test_main DISK_IMAGE.
#
# Scenario (boot_test_main):
#   boot 1, the mail sink on the host is down:
#     SMTP banner, GET /health, /api/v1/status (with and without token),
#     a mail to a local domain is accepted (250) and waits in /api/v1/queue,
#     clean poweroff through the ACPI power button (QEMU system_powerdown);
#   boot 2, same disk, sink up:
#     the queued mail is delivered to the sink, the queue empties, the token
#     and configuration of the first boot are still there (no "first boot");
#   then, powered off (check_least_privilege): the data file system read from
#     the host: everything segl wrote is owned by user segl, the data dir and
#     keystore are 0700, key files 0600.

IMAGE_DIR=${IMAGE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}
REPO=${REPO:-$(cd "$IMAGE_DIR/.." && pwd)}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
POWEROFF_TIMEOUT=${POWEROFF_TIMEOUT:-60}

QEMU_PIDS=()
SINK_PID=""
WORK=""
T0=$(date +%s)

elapsed() { echo "$(($(date +%s) - T0))"; }
say() { echo "[$(elapsed)s] $*"; }

cleanup() {
	local pid
	for pid in "${QEMU_PIDS[@]}"; do
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$SINK_PID" ]; then
		kill "$SINK_PID" 2>/dev/null || true
		wait "$SINK_PID" 2>/dev/null || true
	fi
	if [ -n "$WORK" ] && [ "${KEEP_WORK:-}" != "1" ]; then
		rm -rf "$WORK"
	fi
}

# fail MESSAGE: print the end of the current serial log and stop.
fail() {
	echo "FAIL: $*" >&2
	if [ -n "${SERIAL_LOG:-}" ] && [ -f "$SERIAL_LOG" ]; then
		echo "---- last 60 lines of $SERIAL_LOG ----" >&2
		tail -n 60 "$SERIAL_LOG" | tr -d '\r' >&2
		echo "----" >&2
	fi
	exit 1
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# qemu_start NAME: boot the disk with the forwarded ports, console to
# $WORK/NAME.serial.log, monitor on $WORK/NAME.monitor.
qemu_start() {
	local name=$1
	SERIAL_LOG=$WORK/$name.serial.log
	MONITOR=$WORK/$name.monitor
	: >"$SERIAL_LOG"
	local serial=(-serial "file:$SERIAL_LOG")
	if [ "${CONSOLE_INPUT:-}" = "1" ]; then
		console_relay_start "$name"
		serial=(-chardev "socket,id=con0,path=$CONSOLE_SOCK" -serial chardev:con0)
	fi
	# shellcheck disable=SC2153 # QEMU_CMD and QEMU_NIC come from the caller
	"${QEMU_CMD[@]}" \
		-display none -no-reboot \
		"${serial[@]}" \
		-monitor "unix:$MONITOR,server,nowait" \
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$SMTP_PORT-:25,hostfwd=tcp:127.0.0.1:$ADMIN_PORT-:8080${EXTRA_HOSTFWD:-}" \
		"${QEMU_NIC[@]}" \
		>"$WORK/$name.qemu.log" 2>&1 &
	QEMU_PID=$!
	QEMU_PIDS+=("$QEMU_PID")
	say "$name: qemu started (pid $QEMU_PID), console: $SERIAL_LOG"
}

# console_relay_start NAME: a relay between the guest's serial console and the test, for a
# boot whose console menu is used: QEMU connects to the unix socket $CONSOLE_SOCK; what the
# guest writes is appended to $SERIAL_LOG, and what console_type writes into the FIFO
# $CONSOLE_IN is typed on the console.
console_relay_start() {
	CONSOLE_SOCK=$WORK/$1.serial.sock
	CONSOLE_IN=$WORK/$1.serial.in
	rm -f "$CONSOLE_SOCK" "$CONSOLE_IN"
	mkfifo "$CONSOLE_IN"
	python3 - "$CONSOLE_SOCK" "$CONSOLE_IN" "$SERIAL_LOG" <<'PY' &
import os, selectors, socket, sys
sock_path, fifo, log = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX)
srv.bind(sock_path)
srv.listen(1)
conn, _ = srv.accept()
fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
out = open(log, "ab", buffering=0)
sel = selectors.DefaultSelector()
sel.register(conn, selectors.EVENT_READ)
sel.register(fd, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is conn:
            data = conn.recv(65536)
            if not data:
                sys.exit(0)
            out.write(data)
        else:
            data = os.read(fd, 4096)
            if data:
                conn.sendall(data)
PY
	QEMU_PIDS+=("$!")
	local n=0
	until [ -S "$CONSOLE_SOCK" ]; do
		n=$((n + 1))
		[ "$n" -lt 100 ] || fail "the console relay did not start"
		sleep 0.1
	done
}

# console_type TEXT: type TEXT on the serial console (printf format: \n is Enter).
console_type() {
	# shellcheck disable=SC2059 # the format is the point
	printf "$1" >"$CONSOLE_IN"
}

# wait_console TEXT TIMEOUT [FROM_LINE]: until TEXT (fixed string) shows on the serial console
# after line FROM_LINE.
wait_console_text() {
	local start
	start=$(date +%s)
	until tail -n "+${3:-1}" "$SERIAL_LOG" | tr -d '\r' | grep -qF -- "$1"; do
		[ $(($(date +%s) - start)) -lt "$2" ] || fail "\"$1\" did not show on the console within $2 s"
		sleep 0.5
	done
}

# last_line_of TEXT: the number of the last console line holding TEXT.
last_line_of() {
	tr -d '\r' <"$SERIAL_LOG" | grep -nF -- "$1" | tail -n 1 | cut -d: -f1
}

# wait_banner: until the guest's SMTP listener greets through the forward
# (QEMU accepts the host side at once and closes it while nothing listens).
wait_banner() {
	local start banner
	start=$(date +%s)
	while :; do
		kill -0 "$QEMU_PID" 2>/dev/null || fail "qemu exited during boot ($(cat "$WORK"/*.qemu.log 2>/dev/null))"
		if banner=$(python3 - "$SMTP_PORT" <<'PY' 2>/dev/null
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.settimeout(5)
line = s.makefile("rb").readline().decode()
s.close()
if not line.startswith("220"):
    sys.exit(1)
print(line.strip())
PY
		); then
			say "SMTP banner after $(($(date +%s) - start)) s: $banner"
			return 0
		fi
		[ $(($(date +%s) - start)) -lt "$BOOT_TIMEOUT" ] || fail "no SMTP banner within $BOOT_TIMEOUT s"
		sleep 2
	done
}

# http PATH [TOKEN]: print "STATUS BODY" of GET https://127.0.0.1:ADMIN/PATH
# (the appliance's admin listener is not loopback, so it speaks HTTPS with a
# self-signed certificate; the test does not pin it).
http() {
	python3 - "$ADMIN_PORT" "$1" "${2:-}" "${3:-GET}" "${4:-}" <<'PY'
import ssl, sys, urllib.request, urllib.error
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
urllib.request.install_opener(urllib.request.build_opener(urllib.request.HTTPSHandler(context=ctx)))
body = sys.argv[5].encode() if sys.argv[5] else None
req = urllib.request.Request(f"https://127.0.0.1:{sys.argv[1]}{sys.argv[2]}", data=body, method=sys.argv[4])
if body:
    req.add_header("Content-Type", "application/json")
if sys.argv[3]:
    req.add_header("Authorization", "Bearer " + sys.argv[3])
try:
    with urllib.request.urlopen(req, timeout=15) as r:
        print(r.status, r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode())
PY
}

# send_mail SUBJECT: one message to user@example.org (a local domain, so it
# goes to delivery.inbound_next_hop, the sink).
send_mail() {
	python3 - "$SMTP_PORT" "$1" <<'PY'
import smtplib, sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "alice@partner.example"
m["To"] = "user@example.org"
m["Subject"] = sys.argv[2]
m["Message-ID"] = f"<{sys.argv[2]}@boot-test.invalid>"
m.set_content(f"Boot test message {sys.argv[2]}.\n")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60) as s:
    s.ehlo("boot-test.invalid")
    refused = s.send_message(m)
    if refused:
        sys.exit(f"refused: {refused}")
    print("250 accepted")
PY
}

# poweroff_guest: the ACPI power button; wait for QEMU to exit.
poweroff_guest() {
	local n=0
	python3 - "$MONITOR" <<'PY' || fail "cannot reach the QEMU monitor"
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
time.sleep(0.5)
s.sendall(b"system_powerdown\n")
time.sleep(0.5)
s.close()
PY
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		n=$((n + 1))
		[ "$n" -lt $((POWEROFF_TIMEOUT * 2)) ] || fail "guest did not power off within $POWEROFF_TIMEOUT s of the power button"
		sleep 0.5
	done
	wait "$QEMU_PID" 2>/dev/null || true
	grep -q "segl-shutdown: /data unmounted" "$SERIAL_LOG" ||
		fail "guest powered off without unmounting /data"
	say "guest powered off cleanly (/data unmounted)"
}

# provision_disk SRC HOSTNAME: the image SRC copied to $WORK/disk.img (DISK), with
# segl/segl.toml (host name HOSTNAME, the sink on the host as the inbound next hop) and
# segl/ctl.token on its FAT partition, as an operator provisions a box before its first boot.
provision_disk() {
	DISK=$WORK/disk.img
	cp --sparse=always "$1" "$DISK"
	cat >"$WORK/segl.toml" <<EOF
[smtp]
listen = "0.0.0.0:25"
submission_listen = "0.0.0.0:587"
hostname = "$2"
[relay]
trusted_networks = ["127.0.0.1/32", "10.0.2.2/32"]
local_domains = ["example.org"]
[delivery]
inbound_next_hop = "10.0.2.2:$SINK_PORT"
retry_initial_secs = 5
retry_max_secs = 10
[storage]
data_dir = "/data/segl"
[admin]
listen = "0.0.0.0:8080"
EOF
	echo "$TOKEN" >"$WORK/ctl.token"
	mcopy -o -i "$DISK@@1M" "$WORK/segl.toml" ::segl/segl.toml
	mcopy -o -i "$DISK@@1M" "$WORK/ctl.token" ::segl/ctl.token
}

# ---- appliance checks (issue 17): first-boot console, data partition growth ----

# appliance_grow_disk DISK MIB: the disk becomes MIB MiB larger (a larger VM disk).
appliance_grow_disk() {
	truncate -s "+$2M" "$1"
}

# appliance_check_first_boot_console: the serial console shows the box's
# address, the web admin URL, the admin certificate's SHA-256 and the one-time
# set-up link (no administrator exists yet), within a minute of the banner.
appliance_check_first_boot_console() {
	local start
	start=$(date +%s)
	until grep -q "One-time set-up link" "$SERIAL_LOG"; do
		[ $(($(date +%s) - start)) -lt 60 ] || fail "the console shows no set-up link"
		sleep 1
	done
	sleep 1
	tr -d '\r' <"$SERIAL_LOG" | grep -q "^Web admin: https://10\.0\.2\.15:8080/$" ||
		fail "the console does not show the web admin URL with the box's address"
	tr -d '\r' <"$SERIAL_LOG" | grep -Eq "^Admin certificate SHA-256: [0-9a-f]{64}$" ||
		fail "the console does not show the admin certificate's SHA-256"
	tr -d '\r' <"$SERIAL_LOG" | grep -Eq "^https://10\.0\.2\.15:8080/setup\?token=[A-Za-z0-9_-]+$" ||
		fail "the console does not show the set-up link with the box's address"
	say "console: $(tr -d '\r' <"$SERIAL_LOG" | grep -A1 "^Web admin:" | head -n 2 | tr '\n' ' ')"
}

# appliance_check_console_menu: on the serial console (CONSOLE_INPUT=1 boot), the running
# segl's user is segl (read from /proc by the console, no shell); then the menu sets a static
# address (10.0.2.50/24, gateway 10.0.2.2, DNS 10.0.2.3): the console shows it applied, and the
# admin's /health answers through a forward to the new address (STATIC_ADMIN_PORT); then back to
# DHCP (answering on 10.0.2.15 again); and an administrator is added from the menu.
appliance_check_console_menu() {
	local start from out
	tr -d '\r' <"$SERIAL_LOG" | grep -Eq "^segl runs as segl \(uid [0-9]+, pid [0-9]+\)$" ||
		fail "least privilege: the console does not show segl running as user segl"
	say "console: $(tr -d '\r' <"$SERIAL_LOG" | grep -m1 "^segl runs as")"
	wait_console_text "Menu: 1 show" 30
	start=$(date +%s)
	from=$(($(wc -l <"$SERIAL_LOG") + 1))
	console_type "2\n"
	wait_console_text "Address with prefix" 10 "$from"
	console_type "10.0.2.50/24\n"
	wait_console_text "Gateway" 10 "$from"
	console_type "10.0.2.2\n"
	wait_console_text "DNS servers" 10 "$from"
	console_type "10.0.2.3\n"
	wait_console_text "Address now: 10.0.2.50/24 on eth0" 30 "$from"
	tr -d '\r' <"$SERIAL_LOG" | tail -n "+$from" | grep -q "^Applied: ok static 10.0.2.50/24 on eth0, gateway 10.0.2.2, dns 10.0.2.3" ||
		fail "the console does not show the static address applied"
	ADMIN_PORT_SAVED=$ADMIN_PORT
	ADMIN_PORT=$STATIC_ADMIN_PORT
	until [ "$(http /health)" = "200 ok" ]; do
		[ $(($(date +%s) - start)) -lt 60 ] || fail "GET /health on the static address 10.0.2.50: $(http /health)"
		sleep 1
	done
	ADMIN_PORT=$ADMIN_PORT_SAVED
	say "console menu: static address 10.0.2.50/24 applied without a reboot, /health answers on it ($(($(date +%s) - start)) s)"
	# The console shows itself again (with the new address), then: back to DHCP.
	wait_console_text "Web admin: https://10.0.2.50:8080/" 30 "$from"
	wait_console_text "Menu: 1 show" 30 "$(last_line_of "Web admin: https://10.0.2.50:8080/")"
	start=$(date +%s)
	from=$(($(wc -l <"$SERIAL_LOG") + 1))
	console_type "3\n"
	wait_console_text "Applied: ok dhcp" 30 "$from"
	until [ "$(http /health)" = "200 ok" ]; do
		[ $(($(date +%s) - start)) -lt 60 ] || fail "GET /health after going back to DHCP: $(http /health)"
		sleep 1
	done
	say "console menu: back to DHCP, /health answers on 10.0.2.15 again ($(($(date +%s) - start)) s)"
	# An administrator from the console.
	wait_console_text "Web admin: https://10.0.2.15:8080/" 60 "$from"
	wait_console_text "Menu: 1 show" 30 "$(last_line_of "Web admin: https://10.0.2.15:8080/")"
	from=$(($(wc -l <"$SERIAL_LOG") + 1))
	console_type "4\n"
	wait_console_text "Administrator name" 20 "$from"
	console_type "console-admin\n"
	wait_console_text "New password" 10 "$from"
	console_type "console-pass-0123456789\n"
	wait_console_text "Again" 10 "$from"
	console_type "console-pass-0123456789\n"
	wait_console_text "administrator console-admin (admin) added" 20 "$from"
	out=$(http /api/v1/admins "$TOKEN")
	echo "$out" | grep -q '"name":"console-admin"' || fail "the administrator made on the console is not in /api/v1/admins: $out"
	tr -d '\r' <"$SERIAL_LOG" | grep -q "console-pass-0123456789" && fail "the password was echoed on the console"
	say "console menu: administrator console-admin added (password not echoed)"
	# The time zone set through the API is applied on the box (segl-netd points /etc/localtime
	# at it); the console, started again after its menu, shows local time.
	out=$(http /api/v1/time "$TOKEN" PUT '{"ntp":["pool.ntp.org"],"timezone":"Europe/Copenhagen"}')
	[ "${out%% *}" = "200" ] || fail "PUT /api/v1/time: $out"
	wait_console_text "Menu: 1 show" 30 "$(last_line_of "administrator console-admin (admin) added")"
	# segl-netd takes the request within a second or two; show the console again until then.
	start=$(date +%s)
	while :; do
		from=$(($(wc -l <"$SERIAL_LOG") + 1))
		console_type "1\n"
		wait_console_text "Menu: 1 show" 30 "$from"
		out=$(tr -d '\r' <"$SERIAL_LOG" | tail -n "+$from" | grep "^Time: " | tail -n 1)
		case "$out" in
		*" CET" | *" CEST") break ;;
		esac
		[ $(($(date +%s) - start)) -lt 30 ] || fail "time zone Europe/Copenhagen set, but the console shows \"$out\""
		sleep 1
	done
	say "time zone Europe/Copenhagen applied on the box: console \"$out\""
}

# appliance_check_data_grown MIN_MIB: this boot grew the data partition and /data
# has at least MIN_MIB MiB.
appliance_check_data_grown() {
	local mib
	grep -q "segl-grow-data: growing" "$SERIAL_LOG" || fail "the data partition was not grown to the disk"
	mib=$(tr -d '\r' <"$SERIAL_LOG" | sed -n 's/^segl-init: \/data: \([0-9]*\) MiB$/\1/p' | tail -n 1)
	[ -n "$mib" ] && [ "$mib" -ge "$1" ] || fail "/data has ${mib:-?} MiB, expected at least $1"
	say "data partition grown: /data has $mib MiB"
}

# check_least_privilege: after a clean power-off, reads the data file system
# of $DISK from the host (the ext4 labelled segl-data, found in the MBR or
# GPT; debugfs, read-only) and checks that segl ran as user segl and keeps
# its secrets to itself: the data dir /data/segl and its keystore are 0700,
# the device key, the admin token and the admin TLS key 0600, and every
# entry under /data/segl (the spool files, the sled database and the
# certificates segl wrote while it ran included) belongs to the uid of user
# segl in the image's /etc/passwd, none to root. (segl itself refuses to run
# as root on a box, where /etc/segl exists, unless --allow-root.)
check_least_privilege() {
	local out
	command -v debugfs >/dev/null || fail "least privilege: debugfs missing (e2fsprogs)"
	if ! out=$(python3 - "$DISK" "$REPO/image/rootfs/etc/passwd" 2>&1 <<'PY'
import os, struct, subprocess, sys, tempfile
disk, passwd = sys.argv[1], sys.argv[2]
segl = next(int(l.split(":")[2]) for l in open(passwd) if l.startswith("segl:"))
f = open(disk, "rb")
def parts():
    mbr = f.seek(0) or f.read(512)
    entries = [struct.unpack_from("<BBBBBBBBII", mbr, 446 + 16 * i) for i in range(4)]
    if any(e[4] == 0xEE for e in entries):
        f.seek(512)
        hdr = f.read(92)
        lba, count, size = struct.unpack_from("<QII", hdr, 72)
        f.seek(lba * 512)
        table = f.read(count * size)
        for i in range(count):
            first, last = struct.unpack_from("<QQ", table, i * size + 32)
            if first:
                yield first * 512, (last - first + 1) * 512
    else:
        for e in entries:
            if e[4] and e[9]:
                yield e[8] * 512, e[9] * 512
data = None
for off, size in parts():
    f.seek(off + 1024)
    sb = f.read(136)
    if struct.unpack_from("<H", sb, 56)[0] == 0xEF53 and sb[120:136].rstrip(b"\0") == b"segl-data":
        data = (off, size)
if not data:
    sys.exit("no ext4 file system labelled segl-data on " + disk)
with tempfile.NamedTemporaryFile(dir=os.path.dirname(disk), suffix=".ext4") as img:
    f.seek(data[0])
    left = data[1]
    while left:
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            break
        if chunk.count(0) == len(chunk):
            img.seek(len(chunk), 1)
        else:
            img.write(chunk)
        left -= len(chunk)
    img.truncate(data[1])
    img.flush()
    def ls(path):
        out = subprocess.run(["debugfs", "-R", f"ls -l -p {path}", img.name],
                             capture_output=True, text=True).stdout
        rows = []
        for line in out.splitlines():
            p = line.strip().strip("/").split("/")
            if len(p) >= 5 and p[4] not in (".", ".."):
                rows.append((p[4], int(p[1], 8), int(p[2])))
        return rows
    entries, todo = {}, ["/segl"]
    root_rows = {name: (mode, uid) for name, mode, uid in ls("/")}
    if "segl" not in root_rows:
        sys.exit("no /segl on the data file system")
    entries["/segl"] = root_rows["segl"]
    while todo:
        d = todo.pop()
        for name, mode, uid in ls(d):
            path = f"{d}/{name}"
            entries[path] = (mode, uid)
            if mode & 0o170000 == 0o040000:
                todo.append(path)
problems = []
want = {"/segl": 0o700, "/segl/keystore": 0o700, "/segl/keystore/device.key": 0o600,
        "/segl/ctl.token": 0o600, "/segl/admin-tls/key.pem": 0o600}
for path, mode in want.items():
    if path not in entries:
        problems.append(f"{path} missing")
    elif entries[path][0] & 0o7777 != mode or entries[path][1] != segl:
        problems.append(f"/data{path}: mode {entries[path][0] & 0o7777:o} uid {entries[path][1]}, want {mode:o} uid {segl}")
foreign = [f"/data{p} (uid {u})" for p, (m, u) in sorted(entries.items()) if u != segl]
if foreign:
    problems.append("not owned by segl: " + ", ".join(foreign[:8]))
if problems:
    sys.exit("\n".join(problems))
print(f"all {len(entries)} entries under /data/segl owned by segl (uid {segl}), none by root; "
      + ", ".join(f"/data{p} {m:o}" for p, m in want.items()))
PY
	); then
		fail "least privilege: $out"
	fi
	say "least privilege: $out"
}

boot_test_main() {
	DISK_SRC=$1
	trap cleanup EXIT
	trap 'exit 1' INT TERM
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/segl-boot-test.XXXXXX")
	[ -f "$DISK_SRC" ] || fail "$DISK_SRC missing: run image/build.sh"
	python3 -c 'import aiosmtpd' 2>/dev/null || fail "python3 aiosmtpd missing (.ci/install-deps.sh installs it)"

	SMTP_PORT=$(free_port)
	ADMIN_PORT=$(free_port)
	SINK_PORT=$(free_port)
	STATIC_ADMIN_PORT=$(free_port)
	TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
	say "ports on 127.0.0.1: smtp $SMTP_PORT -> 25, admin $ADMIN_PORT -> 8080, sink $SINK_PORT (guest: 10.0.2.2:$SINK_PORT)"

	# The image under test, provisioned like an operator would before the
	# first boot: segl/segl.toml and segl/ctl.token on the FAT partition.
	provision_disk "$DISK_SRC" segl-boot-test.localdomain
	QEMU_CMD+=(-drive "file=$DISK,format=raw,if=virtio")
	# A disk larger than the image: the first boot grows the data partition.
	appliance_grow_disk "$DISK" 512

	local out subject start
	subject="segl-boot-test-$(date +%s)-$$"

	# ---- boot 1: sink down ----
	say "boot 1 (first boot, sink down)"
	# Boot 1's console takes input (the console menu) and the admin port is also forwarded to
	# the static address the menu sets.
	CONSOLE_INPUT=1 EXTRA_HOSTFWD=",hostfwd=tcp:127.0.0.1:$STATIC_ADMIN_PORT-10.0.2.50:8080" qemu_start boot1
	wait_banner
	if [ -n "${BOOT_MARKER:-}" ]; then
		grep -q "$BOOT_MARKER" "$SERIAL_LOG" || fail "\"$BOOT_MARKER\" is not on the console: not booted through the expected boot loader"
		say "booted through the expected boot loader (\"$BOOT_MARKER\" on the console)"
	fi
	if [ -n "${WATCHDOG_MARKER:-}" ]; then
		wait_console_text "$WATCHDOG_MARKER" 60
		say "hardware watchdog armed (\"$WATCHDOG_MARKER\" on the console)"
	fi
	grep -q "first boot: creating an ext4 file system" "$SERIAL_LOG" || fail "boot 1 did not make the data file system"
	appliance_check_data_grown 1400
	appliance_check_first_boot_console
	out=$(http /health)
	[ "$out" = "200 ok" ] || fail "GET /health: $out"
	say "GET /health: $out"
	out=$(http /api/v1/status)
	[ "${out%% *}" = "401" ] || fail "GET /api/v1/status without token: $out"
	out=$(http /api/v1/status "$TOKEN")
	[ "${out%% *}" = "200" ] || fail "GET /api/v1/status with the provisioned token: $out"
	echo "$out" | grep -q '"hostname":"segl-boot-test.localdomain"' || fail "status does not show the provisioned configuration: $out"
	say "GET /api/v1/status: $out"
	out=$(send_mail "$subject") || fail "sending the mail: $out"
	say "mail $subject: $out"
	start=$(date +%s)
	while :; do
		out=$(http /api/v1/queue "$TOKEN")
		if [ "${out%% *}" = "200" ] && echo "$out" | grep -q '"id"'; then
			break
		fi
		[ $(($(date +%s) - start)) -lt 30 ] || fail "the mail does not show in /api/v1/queue: $out"
		sleep 1
	done
	say "GET /api/v1/queue: ${out:0:400}"
	appliance_check_console_menu
	poweroff_guest
	if mtype -i "$DISK@@1M" ::segl/ctl.token >/dev/null 2>&1; then
		fail "the provisioned token is still on the boot partition after the first boot"
	fi
	mtype -i "$DISK@@1M" ::segl/segl.toml >/dev/null 2>&1 || fail "segl/segl.toml vanished from the boot partition"
	say "boot partition: segl/ctl.token was moved to /data, segl/segl.toml left in place"

	# ---- boot 2: sink up, same disk ----
	mkdir -p "$WORK/sink"
	python3 "$REPO/tests/peers/sink.py" --listen "127.0.0.1:$SINK_PORT" --dir "$WORK/sink" \
		>"$WORK/sink.log" 2>&1 &
	SINK_PID=$!
	say "boot 2 (sink up, pid $SINK_PID), the disk 256 MiB larger again"
	appliance_grow_disk "$DISK" 256
	qemu_start boot2
	wait_banner
	appliance_check_data_grown 1650
	if grep -q "first boot" "$SERIAL_LOG"; then
		fail "boot 2 behaved like a first boot: /data did not keep its state"
	fi
	start=$(date +%s)
	while ! grep -qs "Subject: $subject" "$WORK"/sink/*.eml; do
		kill -0 "$SINK_PID" 2>/dev/null || fail "the sink died: $(cat "$WORK/sink.log")"
		[ $(($(date +%s) - start)) -lt 120 ] || fail "the queued mail did not reach the sink within 120 s"
		sleep 2
	done
	say "queued mail delivered to the sink after $(($(date +%s) - start)) s: $(grep -l "Subject: $subject" "$WORK"/sink/*.eml)"
	start=$(date +%s)
	while :; do
		out=$(http /api/v1/queue "$TOKEN")
		[ "$out" = "200 []" ] && break
		[ $(($(date +%s) - start)) -lt 30 ] || fail "queue not empty after delivery: $out"
		sleep 1
	done
	say "GET /api/v1/queue: $out (token of boot 1 still valid)"
	poweroff_guest
	check_least_privilege
	say "PASS ($(elapsed) s)"
}
