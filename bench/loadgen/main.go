// Copyright (c) etcdops contributors
// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later

// Command loadgen loads an etcd cluster the way its clients do (writers, linearizable and
// serializable readers, leases kept alive, a watch) and records what each of them felt, so that
// bench/client_impact.py can compare maintenance procedures.
//
// Every operation becomes one JSON line in -events; stdout gets a JSON summary once the load
// stopped (after -duration, -max-ops operations, or SIGINT/SIGTERM), after every acknowledged
// write was read back: lost_writes must be 0.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

const maxDuration = time.Hour

// Event is one line of the -events file.
type Event struct {
	Kind     string `json:"kind"`
	Client   string `json:"client"`
	Endpoint string `json:"endpoint"`
	Member   string `json:"member,omitempty"` // member id (hex) from the response header
	TTL      int64  `json:"ttl,omitempty"`
	StartNs  int64  `json:"start_ns"`
	EndNs    int64  `json:"end_ns"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`
	Rev      int64  `json:"rev,omitempty"`
	Key      string `json:"key,omitempty"`
	Events   int    `json:"events,omitempty"` // watch: events in the response
}

type config struct {
	endpoints    []string
	pin          bool
	writers      int
	linReaders   int
	serReaders   int
	leaseTTLs    []int64
	watch        bool
	duration     time.Duration
	maxOps       int64
	opTimeout    time.Duration
	interval     time.Duration
	valueBytes   int
	prefix       string
	allowHost    bool
	eventsPath   string
	dialTimeout  time.Duration
	readbackTime time.Duration
}

type recorder struct {
	mu     sync.Mutex
	out    *bufio.Writer
	file   *os.File
	counts map[string]map[string]int64 // kind -> ok/failed -> count
	errs   map[string]int64            // "kind: message" -> count
}

func newRecorder(path string) (*recorder, error) {
	r := &recorder{counts: map[string]map[string]int64{}, errs: map[string]int64{}}
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		r.file = f
		r.out = bufio.NewWriterSize(f, 1<<16)
	}
	return r, nil
}

func (r *recorder) record(e Event) {
	line, _ := json.Marshal(e)
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.counts[e.Kind]
	if c == nil {
		c = map[string]int64{}
		r.counts[e.Kind] = c
	}
	if e.OK {
		c["ok"]++
	} else {
		c["failed"]++
		if e.Error != "" {
			r.errs[e.Kind+": "+e.Error]++
		}
	}
	if r.out != nil {
		r.out.Write(line)
		r.out.WriteByte('\n')
	}
}

func (r *recorder) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.out == nil {
		return nil
	}
	if err := r.out.Flush(); err != nil {
		return err
	}
	return r.file.Close()
}

type ackedWrite struct {
	key string
	rev int64
}

type state struct {
	cfg   config
	rec   *recorder
	ops   atomic.Int64
	mu    sync.Mutex
	acked []ackedWrite
	stop  context.CancelFunc
}

// op counts one operation against -max-ops; false once the cap is reached (and the load stops).
func (s *state) op() bool {
	if s.cfg.maxOps > 0 && s.ops.Add(1) > s.cfg.maxOps {
		s.stop()
		return false
	}
	return true
}

func memberHex(id uint64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatUint(id, 16)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	if ev, ok := err.(rpctypes.EtcdError); ok {
		return ev.Error()
	}
	msg := err.Error()
	// gRPC status texts: "rpc error: code = X desc = Y" -> keep them whole, they are the explanation.
	return msg
}

func checkLoopback(endpoints []string) error {
	for _, ep := range endpoints {
		host := ep
		if strings.Contains(ep, "://") {
			u, err := url.Parse(ep)
			if err != nil {
				return fmt.Errorf("endpoint %q: %v", ep, err)
			}
			host = u.Hostname()
		} else if h, _, err := net.SplitHostPort(ep); err == nil {
			host = h
		}
		if host == "localhost" {
			continue
		}
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("endpoint %q is not a loopback address (give -allow-host to load it anyway)", ep)
		}
	}
	return nil
}

func newClient(cfg config, endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:            endpoints,
		DialTimeout:          cfg.dialTimeout,
		DialKeepAliveTime:    2 * time.Second,
		DialKeepAliveTimeout: 6 * time.Second,
		Logger:               zap.NewNop(),
	})
}

func (s *state) value(key string) string {
	v := key + "|"
	if len(v) < s.cfg.valueBytes {
		v += strings.Repeat("x", s.cfg.valueBytes-len(v))
	}
	return v
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (s *state) writer(ctx context.Context, cli *clientv3.Client, name, endpoint string, w int) {
	for seq := 0; ctx.Err() == nil && s.op(); seq++ {
		key := fmt.Sprintf("%s/w/%s/%d/%08d", s.cfg.prefix, name, w, seq)
		octx, cancel := context.WithTimeout(ctx, s.cfg.opTimeout)
		start := time.Now()
		resp, err := cli.Put(octx, key, s.value(key))
		end := time.Now()
		cancel()
		e := Event{Kind: "put", Client: name, Endpoint: endpoint, StartNs: start.UnixNano(), EndNs: end.UnixNano(),
			OK: err == nil, Error: errText(err), Key: key}
		if err == nil {
			e.Rev = resp.Header.Revision
			e.Member = memberHex(resp.Header.MemberId)
			s.mu.Lock()
			s.acked = append(s.acked, ackedWrite{key, resp.Header.Revision})
			s.mu.Unlock()
		} else if ctx.Err() != nil {
			return // stopped while in flight: not a failure of the cluster
		}
		s.rec.record(e)
		sleepCtx(ctx, s.cfg.interval)
	}
}

func (s *state) reader(ctx context.Context, cli *clientv3.Client, name, endpoint string, serializable bool) {
	kind, opts := "get_linearizable", []clientv3.OpOption{}
	if serializable {
		kind, opts = "get_serializable", []clientv3.OpOption{clientv3.WithSerializable()}
	}
	key := s.cfg.prefix + "/probe"
	for ctx.Err() == nil && s.op() {
		octx, cancel := context.WithTimeout(ctx, s.cfg.opTimeout)
		start := time.Now()
		resp, err := cli.Get(octx, key, opts...)
		end := time.Now()
		cancel()
		if err != nil && ctx.Err() != nil {
			return
		}
		e := Event{Kind: kind, Client: name, Endpoint: endpoint, StartNs: start.UnixNano(), EndNs: end.UnixNano(),
			OK: err == nil, Error: errText(err)}
		if err == nil {
			e.Rev = resp.Header.Revision
			e.Member = memberHex(resp.Header.MemberId)
		}
		s.rec.record(e)
		sleepCtx(ctx, s.cfg.interval)
	}
}

// lease keeps one lease of the given TTL alive with KeepAlive. Each keepalive response is an event
// whose start is the previous response (or the grant): the gap between two responses, which the
// client's own loop makes TTL/3 plus up to 0.5 s when nothing stalls. A closed keepalive channel is
// a lost lease ("lease_lost"); TimeToLive then tells whether it expired ("lease_expired").
func (s *state) lease(ctx context.Context, cli *clientv3.Client, name, endpoint string, ttl int64) {
	key := fmt.Sprintf("%s/lease/%s/%d", s.cfg.prefix, name, ttl)
	for ctx.Err() == nil && s.op() {
		octx, cancel := context.WithTimeout(ctx, s.cfg.opTimeout)
		start := time.Now()
		grant, err := cli.Grant(octx, ttl)
		if err == nil {
			_, err = cli.Put(octx, key, "held", clientv3.WithLease(grant.ID))
		}
		end := time.Now()
		cancel()
		if err != nil && ctx.Err() != nil {
			return
		}
		e := Event{Kind: "lease_grant", Client: name, Endpoint: endpoint, TTL: ttl, StartNs: start.UnixNano(),
			EndNs: end.UnixNano(), OK: err == nil, Error: errText(err)}
		if err == nil {
			e.Member = memberHex(grant.ResponseHeader.MemberId)
			e.Rev = int64(grant.ID)
		}
		s.rec.record(e)
		if err != nil {
			sleepCtx(ctx, s.cfg.interval+100*time.Millisecond)
			continue
		}
		kctx, kcancel := context.WithCancel(ctx)
		ch, err := cli.KeepAlive(kctx, grant.ID)
		if err != nil {
			kcancel()
			s.rec.record(Event{Kind: "lease_lost", Client: name, Endpoint: endpoint, TTL: ttl,
				StartNs: end.UnixNano(), EndNs: time.Now().UnixNano(), Error: errText(err)})
			continue
		}
		last := end
		for resp := range ch {
			now := time.Now()
			s.rec.record(Event{Kind: "keepalive", Client: name, Endpoint: endpoint, TTL: ttl,
				Member: memberHex(resp.ResponseHeader.MemberId), StartNs: last.UnixNano(), EndNs: now.UnixNano(), OK: resp.TTL > 0,
				Rev: resp.Revision})
			last = now
			if s.cfg.maxOps > 0 && s.ops.Add(1) > s.cfg.maxOps {
				s.stop()
			}
		}
		kcancel()
		if ctx.Err() != nil {
			return
		}
		// The client gave up on the lease: no keepalive response for a whole TTL.
		lost := time.Now()
		octx, cancel = context.WithTimeout(ctx, s.cfg.opTimeout)
		ttlResp, terr := cli.TimeToLive(octx, grant.ID)
		cancel()
		kind, msg := "lease_lost", "keepalive channel closed"
		if terr == nil && ttlResp.TTL <= 0 {
			kind, msg = "lease_expired", "lease expired on the server"
		} else if terr != nil {
			msg += "; timetolive: " + errText(terr)
		}
		s.rec.record(Event{Kind: kind, Client: name, Endpoint: endpoint, TTL: ttl, StartNs: last.UnixNano(),
			EndNs: lost.UnixNano(), Error: msg})
	}
}

// watch watches the write prefix; each response is an event whose start is the previous response:
// the delivery gap. A broken watch is re-created from the next revision.
func (s *state) watch(ctx context.Context, cli *clientv3.Client, name, endpoint string) {
	prefix := s.cfg.prefix + "/w/"
	var next int64
	last := time.Now()
	for ctx.Err() == nil {
		opts := []clientv3.OpOption{clientv3.WithPrefix()}
		if next > 0 {
			opts = append(opts, clientv3.WithRev(next))
		}
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		for resp := range cli.Watch(wctx, prefix, opts...) {
			now := time.Now()
			err := resp.Err()
			e := Event{Kind: "watch", Client: name, Endpoint: endpoint, Member: memberHex(resp.Header.MemberId),
				StartNs: last.UnixNano(), EndNs: now.UnixNano(), OK: err == nil, Error: errText(err),
				Rev: resp.Header.Revision, Events: len(resp.Events)}
			if resp.CompactRevision > 0 {
				e.Error = fmt.Sprintf("compacted at %d", resp.CompactRevision)
				next = resp.CompactRevision
			}
			if n := len(resp.Events); n > 0 {
				next = resp.Events[n-1].Kv.ModRevision + 1
			}
			if ctx.Err() != nil {
				break
			}
			if n := len(resp.Events); n > 0 || err != nil {
				s.rec.record(e)
				last = now
			}
			if err != nil {
				break
			}
		}
		cancel()
		if ctx.Err() == nil {
			s.rec.record(Event{Kind: "watch_restart", Client: name, Endpoint: endpoint,
				StartNs: time.Now().UnixNano(), EndNs: time.Now().UnixNano()})
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}
}

type readback struct {
	Checked  int      `json:"checked"`
	Lost     int      `json:"lost_writes"`
	Examples []string `json:"lost_examples,omitempty"`
	Error    string   `json:"error,omitempty"`
	Seconds  float64  `json:"seconds"`
}

// readBack reads every acknowledged write back (paged range reads, linearizable, over all
// endpoints) and counts those missing or at another revision.
func (s *state) readBack() readback {
	started := time.Now()
	out := readback{}
	cli, err := newClient(s.cfg, s.cfg.endpoints)
	if err != nil {
		out.Error = err.Error()
		return out
	}
	defer cli.Close()
	found := map[string]int64{}
	prefix := s.cfg.prefix + "/w/"
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix
	deadline := time.Now().Add(s.cfg.readbackTime)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(2000))
		cancel()
		if err != nil {
			// A member may be busy (a defrag still running): try again until the deadline.
			out.Error = errText(err)
			time.Sleep(500 * time.Millisecond)
			continue
		}
		out.Error = ""
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			if string(kv.Value) == s.value(k) {
				found[k] = kv.ModRevision
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	if out.Error != "" {
		out.Error = "readback incomplete: " + out.Error
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.acked {
		out.Checked++
		if found[w.key] != w.rev {
			out.Lost++
			if len(out.Examples) < 10 {
				out.Examples = append(out.Examples, fmt.Sprintf("%s@%d (found rev %d)", w.key, w.rev, found[w.key]))
			}
		}
	}
	out.Seconds = time.Since(started).Seconds()
	return out
}

func parseTTLs(text string) ([]int64, error) {
	var ttls []int64
	for _, f := range strings.Split(text, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || v < 2 {
			return nil, fmt.Errorf("-lease-ttls: %q is not a TTL of 2 s or more", f)
		}
		ttls = append(ttls, v)
	}
	return ttls, nil
}

func main() {
	os.Exit(run())
}

func run() int {
	var cfg config
	var endpoints, ttls string
	flag.StringVar(&endpoints, "endpoints", "http://127.0.0.1:2379", "comma-separated client URLs")
	flag.BoolVar(&cfg.pin, "pin", false, "one client per endpoint, each pinned to its member (like kubeadm's API server); "+
		"without it one client balanced over all endpoints")
	flag.IntVar(&cfg.writers, "writers", 2, "writers per client (each put is a new key under PREFIX/w/)")
	flag.IntVar(&cfg.linReaders, "linearizable-readers", 1, "linearizable readers per client")
	flag.IntVar(&cfg.serReaders, "serializable-readers", 1, "serializable readers per client")
	flag.StringVar(&ttls, "lease-ttls", "5,15,60", "one lease per TTL (seconds) per client, kept alive with KeepAlive; empty: none")
	flag.BoolVar(&cfg.watch, "watch", true, "one watch per client on the write prefix")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "how long to load (at most 1h)")
	flag.Int64Var(&cfg.maxOps, "max-ops", 1000000, "stop after this many operations in all (0: no cap besides -duration)")
	flag.DurationVar(&cfg.opTimeout, "op-timeout", 5*time.Second, "timeout of one operation")
	flag.DurationVar(&cfg.interval, "interval", 50*time.Millisecond, "pause of each writer/reader between two operations")
	flag.IntVar(&cfg.valueBytes, "value-bytes", 256, "bytes of each written value")
	flag.StringVar(&cfg.prefix, "prefix", "/loadgen", "key prefix")
	flag.BoolVar(&cfg.allowHost, "allow-host", false, "allow endpoints that are not loopback addresses")
	flag.StringVar(&cfg.eventsPath, "events", "", "write every operation as a JSON line to this file")
	flag.DurationVar(&cfg.dialTimeout, "dial-timeout", 2*time.Second, "dial timeout")
	flag.DurationVar(&cfg.readbackTime, "readback-timeout", 60*time.Second, "time allowed to read the acknowledged writes back")
	flag.Parse()

	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", args...)
		return 2
	}
	for _, ep := range strings.Split(endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			cfg.endpoints = append(cfg.endpoints, ep)
		}
	}
	if len(cfg.endpoints) == 0 {
		return fail("no -endpoints")
	}
	if !cfg.allowHost {
		if err := checkLoopback(cfg.endpoints); err != nil {
			return fail("%v", err)
		}
	}
	var err error
	if cfg.leaseTTLs, err = parseTTLs(ttls); err != nil {
		return fail("%v", err)
	}
	if cfg.duration <= 0 || cfg.duration > maxDuration {
		return fail("-duration must be above 0 and at most %s", maxDuration)
	}
	if cfg.maxOps < 0 || cfg.writers < 0 || cfg.linReaders < 0 || cfg.serReaders < 0 || cfg.valueBytes < 0 {
		return fail("negative -max-ops, -writers, -*-readers or -value-bytes")
	}
	cfg.prefix = strings.TrimRight(cfg.prefix, "/")

	rec, err := newRecorder(cfg.eventsPath)
	if err != nil {
		return fail("%v", err)
	}
	ctx, stop := context.WithTimeout(context.Background(), cfg.duration)
	defer stop()
	s := &state{cfg: cfg, rec: rec, stop: stop}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-signals
		stop()
	}()
	// Whatever happens, the process ends: the load, the readback and a margin.
	hard := time.AfterFunc(cfg.duration+cfg.readbackTime+2*time.Minute, func() {
		fmt.Fprintln(os.Stderr, "loadgen: did not stop in time, exiting")
		os.Exit(3)
	})
	defer hard.Stop()

	// The members, to name the member ids of the response headers.
	members := map[string]string{}
	{
		cli, err := newClient(cfg, cfg.endpoints)
		if err != nil {
			return fail("%v", err)
		}
		mctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := cli.MemberList(mctx)
		cancel()
		cli.Close()
		if err != nil {
			return fail("member list: %v", err)
		}
		for _, m := range resp.Members {
			members[memberHex(m.ID)] = strings.Join(m.ClientURLs, ",")
		}
	}

	type group struct{ name, endpoint string }
	var groups []group
	if cfg.pin {
		for i, ep := range cfg.endpoints {
			groups = append(groups, group{fmt.Sprintf("pin%d", i), ep})
		}
	} else {
		groups = append(groups, group{"balanced", strings.Join(cfg.endpoints, ",")})
	}
	started := time.Now()
	var wg sync.WaitGroup
	var clients []*clientv3.Client
	for _, g := range groups {
		cli, err := newClient(cfg, strings.Split(g.endpoint, ","))
		if err != nil {
			return fail("client %s: %v", g.name, err)
		}
		clients = append(clients, cli)
		spawn := func(f func()) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f()
			}()
		}
		for w := 0; w < cfg.writers; w++ {
			spawn(func() { s.writer(ctx, cli, g.name, g.endpoint, w) })
		}
		for r := 0; r < cfg.linReaders; r++ {
			spawn(func() { s.reader(ctx, cli, g.name, g.endpoint, false) })
		}
		for r := 0; r < cfg.serReaders; r++ {
			spawn(func() { s.reader(ctx, cli, g.name, g.endpoint, true) })
		}
		for _, ttl := range cfg.leaseTTLs {
			spawn(func() { s.lease(ctx, cli, g.name, g.endpoint, ttl) })
		}
		if cfg.watch {
			spawn(func() { s.watch(ctx, cli, g.name, g.endpoint) })
		}
	}
	<-ctx.Done()
	wg.Wait()
	stopped := time.Now()
	for _, cli := range clients {
		cli.Close()
	}
	rb := s.readBack()
	closeErr := rec.close()

	errs := make([]map[string]any, 0, len(rec.errs))
	for msg, n := range rec.errs {
		errs = append(errs, map[string]any{"error": msg, "count": n})
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i]["count"].(int64) > errs[j]["count"].(int64) })
	reason := "duration"
	if errors.Is(ctx.Err(), context.Canceled) {
		reason = "signal or -max-ops"
	}
	summary := map[string]any{
		"mode":             map[bool]string{true: "pinned", false: "balanced"}[cfg.pin],
		"endpoints":        cfg.endpoints,
		"members":          members,
		"started_ns":       started.UnixNano(),
		"stopped_ns":       stopped.UnixNano(),
		"stopped_by":       reason,
		"operations":       s.ops.Load(),
		"counts":           rec.counts,
		"errors":           errs,
		"acknowledged":     len(s.acked),
		"readback":         rb,
		"lost_writes":      rb.Lost,
		"events_file":      cfg.eventsPath,
		"events_write_err": errText(closeErr),
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(summary); err != nil {
		return fail("%v", err)
	}
	if rb.Lost > 0 || rb.Error != "" {
		return 1
	}
	return 0
}
