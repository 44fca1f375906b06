// Command dockerfile-check checks a Dockerfile without a Docker daemon, with BuildKit's own Dockerfile frontend
// (github.com/moby/buildkit/frontend/dockerfile): the parser, the instruction parser, the build-check linter
// (the rules `docker build --check` runs, for all stages) and the Dockerfile-to-LLB conversion of the target.
// Base images are never pulled: a resolver answers every image with an empty config for the target platform, so
// nothing needs a registry (the base images' own ENV, USER and so on are therefore unknown).
//
//	dockerfile-check --file Dockerfile [--build-arg K=V]... [--target STAGE] [--strict]
//
// prints one JSON report on stdout: lint warnings, each stage with its base image (build args expanded as BuildKit
// does), every COPY/ADD, and the final image config from the conversion. A Dockerfile BuildKit refuses (a syntax
// error, an unknown instruction, a bad stage reference) exits 1 with the reason on stderr; --strict also exits 1
// after printing the report when there are lint warnings.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/util/system"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

type warning struct {
	Rule        string `json:"rule"`
	Description string `json:"description"`
	Detail      string `json:"detail"`
	URL         string `json:"url,omitempty"`
	Line        int    `json:"line"`
}

type stageReport struct {
	Name string `json:"name"`
	// BaseImage is the FROM operand with build args expanded; BaseStage names the earlier stage it refers to.
	BaseImage string `json:"baseImage"`
	BaseStage string `json:"baseStage,omitempty"`
	Platform  string `json:"platform,omitempty"`
	Line      int    `json:"line"`
	// Args are the values of the ARGs the stage declares, as its instructions see them.
	Args     map[string]string `json:"args"`
	Commands []string          `json:"commands"`
}

type copyReport struct {
	Stage       string `json:"stage"`
	Instruction string `json:"instruction"`
	// From is the earlier stage's name ("" for the build context); FromKind is context, stage or image.
	From     string   `json:"from"`
	FromKind string   `json:"fromKind"`
	Sources  []string `json:"sources"`
	Dest     string   `json:"dest"`
	Chown    string   `json:"chown"`
	Line     int      `json:"line"`
}

type finalReport struct {
	Stage      string            `json:"stage"`
	User       string            `json:"user"`
	Workdir    string            `json:"workdir"`
	Entrypoint []string          `json:"entrypoint"`
	Cmd        []string          `json:"cmd"`
	Expose     []string          `json:"expose"`
	Env        map[string]string `json:"env"`
	Labels     map[string]string `json:"labels"`
	// Source says where the config came from: "llb" (BuildKit's conversion) or "instructions" (this program's walk,
	// used only when the conversion failed).
	Source string `json:"source"`
}

type report struct {
	BuildkitVersion string            `json:"buildkitVersion"`
	Target          string            `json:"target"`
	Args            map[string]string `json:"args"`
	Warnings        []warning         `json:"warnings"`
	Stages          []stageReport     `json:"stages"`
	Final           finalReport       `json:"final"`
	Copies          []copyReport      `json:"copies"`
	// LLB is true when the target converts to an LLB definition, else the conversion's error text.
	LLB any `json:"llb"`
}

// buildkitVersion is set with -ldflags -X by the builder.
var buildkitVersion = "unknown"

type buildArgs map[string]string

func (b buildArgs) String() string { return fmt.Sprint(map[string]string(b)) }

func (b buildArgs) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		// Like `docker build --build-arg NAME`: the value comes from the environment, the arg is skipped if unset.
		if ev, set := os.LookupEnv(k); set {
			b[k] = ev
		}
		return nil
	}
	b[k] = val
	return nil
}

// offlineResolver answers every image with an empty config for the requested platform, without a registry.
type offlineResolver struct{}

func (offlineResolver) ResolveImageConfig(_ context.Context, ref string, opt sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	p := platforms.DefaultSpec()
	if opt.ImageOpt != nil && opt.ImageOpt.Platform != nil {
		p = *opt.ImageOpt.Platform
	}
	img := ocispecs.Image{
		Platform: p,
		Config: ocispecs.ImageConfig{
			Env:        []string{"PATH=" + system.DefaultPathEnv(p.OS)},
			WorkingDir: "/",
		},
		RootFS: ocispecs.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromString(ref)}},
	}
	dt, err := json.Marshal(img)
	return ref, "", dt, err
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "dockerfile-check: "+format+"\n", a...)
	os.Exit(1)
}

func line(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

func main() {
	file := flag.String("file", "Dockerfile", "the Dockerfile to check")
	target := flag.String("target", "", "the stage to build (default: the last)")
	strict := flag.Bool("strict", false, "exit 1 when there are lint warnings")
	args := buildArgs{}
	flag.Var(args, "build-arg", "NAME=VALUE build arg (repeatable)")
	flag.Parse()
	if flag.NArg() > 0 {
		fail("unexpected arguments %q", flag.Args())
	}

	dt, err := os.ReadFile(*file)
	if err != nil {
		fail("%v", err)
	}
	ctx := context.Background()
	rep, err := check(ctx, *file, dt, args, *target)
	if err != nil {
		fail("%s: %v", *file, err)
	}
	out := json.NewEncoder(os.Stdout)
	out.SetIndent("", "  ")
	out.SetEscapeHTML(false)
	if err := out.Encode(rep); err != nil {
		fail("%v", err)
	}
	if *strict && len(rep.Warnings) > 0 {
		fmt.Fprintf(os.Stderr, "dockerfile-check: %s: %d lint warning(s)\n", *file, len(rep.Warnings))
		os.Exit(1)
	}
}

func convertOpt(ctx context.Context, file string, dt []byte, args buildArgs, target string) (dockerfile2llb.ConvertOpt, error) {
	ba := make(map[string]string, len(args))
	for k, v := range args {
		ba[k] = v
	}
	// The source map the warnings and LLB locations point into, as the dockerfile frontend makes it.
	src := llb.Local("dockerfile")
	def, err := src.Marshal(ctx)
	if err != nil {
		return dockerfile2llb.ConvertOpt{}, err
	}
	smap := llb.NewSourceMap(&src, file, "Dockerfile", dt)
	smap.Definition = def
	return dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{BuildArgs: ba, Target: target},
		MetaResolver: offlineResolver{},
		SourceMap:    smap,
	}, nil
}

func check(ctx context.Context, file string, dt []byte, args buildArgs, target string) (*report, error) {
	// The parse, with BuildKit's location-aware errors (unknown instructions, bad flags, ...).
	ast, err := parser.Parse(bytes.NewReader(dt))
	if err != nil {
		return nil, err
	}
	stages, metaArgs, err := instructions.Parse(ast.AST, nil)
	if err != nil {
		return nil, withLine(err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("the Dockerfile has no stages")
	}

	// `docker build --check`: every rule, over all stages when no target is given.
	opt, err := convertOpt(ctx, file, dt, args, target)
	if err != nil {
		return nil, err
	}
	lint, err := dockerfile2llb.DockerfileLint(ctx, dt, opt)
	if err != nil {
		return nil, err
	}
	if lint.Error != nil {
		msg := lint.Error.Message
		if rs := lint.Error.Location.Ranges; len(rs) > 0 && !strings.Contains(msg, "line") {
			msg = fmt.Sprintf("line %d: %s", rs[0].Start.Line, msg)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	rep := &report{BuildkitVersion: buildkitVersion, Warnings: []warning{}, Copies: []copyReport{}}
	for _, w := range lint.Warnings {
		ln := 0
		if w.Location != nil && len(w.Location.Ranges) > 0 {
			ln = int(w.Location.Ranges[0].Start.Line)
		}
		rep.Warnings = append(rep.Warnings, warning{Rule: w.RuleName, Description: w.Description, Detail: w.Detail, URL: w.URL, Line: ln})
	}

	lex := shell.NewLex(ast.EscapeToken)
	global, err := globalArgs(lex, metaArgs, args, target, stages)
	if err != nil {
		return nil, err
	}
	rep.Args = global.vars
	walked, err := walk(lex, stages, global, args, rep)
	if err != nil {
		return nil, err
	}
	targetIdx := len(stages) - 1
	if target != "" {
		targetIdx = -1
		for i, s := range stages {
			if s.Name == strings.ToLower(target) {
				targetIdx = i
			}
		}
		if targetIdx < 0 {
			return nil, fmt.Errorf("target stage %q could not be found", target)
		}
	}
	rep.Target = rep.Stages[targetIdx].Name
	rep.Final = walked[targetIdx]

	// The conversion BuildKit does before building: the target's LLB graph and its image config.
	opt, err = convertOpt(ctx, file, dt, args, target)
	if err != nil {
		return nil, err
	}
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, dt, opt)
	if err == nil {
		_, err = res.State.Marshal(ctx)
	}
	if err != nil {
		rep.LLB = err.Error()
		return rep, nil
	}
	rep.LLB = true
	c := res.Image.Config
	rep.Final = finalReport{
		Stage:      rep.Target,
		User:       c.User,
		Workdir:    c.WorkingDir,
		Entrypoint: orEmpty(c.Entrypoint),
		Cmd:        orEmpty(c.Cmd),
		Expose:     []string{},
		Env:        map[string]string{},
		Labels:     map[string]string{},
		Source:     "llb",
	}
	for p := range c.ExposedPorts {
		rep.Final.Expose = append(rep.Final.Expose, p)
	}
	sort.Strings(rep.Final.Expose)
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		rep.Final.Env[k] = v
	}
	for k, v := range c.Labels {
		rep.Final.Labels[k] = v
	}
	return rep, nil
}

func withLine(err error) error {
	var le *parser.LocationError
	if ok := asLocation(err, &le); ok && len(le.Locations) > 0 && len(le.Locations[0]) > 0 && !strings.Contains(err.Error(), "line") {
		return fmt.Errorf("line %d: %w", le.Locations[0][0].Start.Line, err)
	}
	return err
}

func asLocation(err error, target **parser.LocationError) bool {
	for e := err; e != nil; {
		if le, ok := e.(*parser.LocationError); ok {
			*target = le
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// env is an ordered variable list, the shell.EnvGetter the expansion reads.
type env struct {
	vars map[string]string
	keys []string
}

func newEnv() *env { return &env{vars: map[string]string{}} }

func (e *env) Get(k string) (string, bool) { v, ok := e.vars[k]; return v, ok }
func (e *env) Keys() []string              { return e.keys }
func (e *env) set(k, v string) {
	if _, ok := e.vars[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vars[k] = v
}
func (e *env) clone() *env {
	c := newEnv()
	for _, k := range e.keys {
		c.set(k, e.vars[k])
	}
	return c
}

// globalArgs is BuildKit's meta-arg scope: the automatic platform args, then each ARG before the first FROM, where
// a --build-arg replaces the default and a default is expanded with the args before it.
func globalArgs(lex *shell.Lex, metaArgs []instructions.ArgCommand, args buildArgs, target string, stages []instructions.Stage) (*env, error) {
	g := newEnv()
	tp := platforms.DefaultSpec()
	if target == "" {
		target = stages[len(stages)-1].Name
	}
	if target == "" {
		target = "default"
	}
	for _, kv := range [][2]string{
		{"BUILDPLATFORM", platforms.Format(tp)}, {"BUILDOS", tp.OS}, {"BUILDOSVERSION", tp.OSVersion},
		{"BUILDARCH", tp.Architecture}, {"BUILDVARIANT", tp.Variant},
		{"TARGETPLATFORM", platforms.FormatAll(tp)}, {"TARGETOS", tp.OS}, {"TARGETOSVERSION", tp.OSVersion},
		{"TARGETARCH", tp.Architecture}, {"TARGETVARIANT", tp.Variant}, {"TARGETSTAGE", target},
	} {
		v := kv[1]
		if ov, ok := args[kv[0]]; ok {
			v = ov
		}
		g.set(kv[0], v)
	}
	for _, cmd := range metaArgs {
		for _, kp := range cmd.Args {
			if v, ok := args[kp.Key]; ok {
				g.set(kp.Key, v)
			} else if kp.Value != nil {
				v, _, err := lex.ProcessWord(*kp.Value, g)
				if err != nil {
					return nil, fmt.Errorf("line %d: %w", line(cmd.Location()), err)
				}
				g.set(kp.Key, v)
			}
		}
	}
	return g, nil
}

type stageState struct {
	env        *env
	envKeys    map[string]struct{} // the keys set by ENV (the rest of env are ARGs)
	user       string
	workdir    string
	entrypoint []string
	cmd        []string
	expose     map[string]struct{}
	labels     map[string]string
	shell      []string
}

// walk expands each stage's FROM with the global args and its COPY/ADD, ENV, USER, WORKDIR... with the stage's
// variables (its ARGs and ENVs, inherited from an earlier stage it is based on), as BuildKit's dispatch does.
func walk(lex *shell.Lex, stages []instructions.Stage, global *env, args buildArgs, rep *report) ([]finalReport, error) {
	byName := map[string]int{}
	states := make([]*stageState, len(stages))
	finals := make([]finalReport, len(stages))
	for i, st := range stages {
		base, _, err := lex.ProcessWord(st.BaseName, global)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line(st.Location), err)
		}
		name := st.Name
		if name == "" {
			name = fmt.Sprintf("stage-%d", i) // as BuildKit names an unnamed stage in its messages
		}
		sr := stageReport{Name: name, BaseImage: base, Platform: st.Platform, Line: line(st.Location), Args: map[string]string{}, Commands: []string{}}
		var s *stageState
		if j, ok := byName[strings.ToLower(base)]; ok {
			sr.BaseStage = rep.Stages[j].Name
			p := states[j]
			s = &stageState{env: p.env.clone(), envKeys: map[string]struct{}{"PATH": {}}, user: p.user, workdir: p.workdir, entrypoint: p.entrypoint, cmd: p.cmd,
				expose: map[string]struct{}{}, labels: map[string]string{}, shell: p.shell}
			for k := range p.envKeys {
				s.envKeys[k] = struct{}{}
			}
			for k := range p.expose {
				s.expose[k] = struct{}{}
			}
			for k, v := range p.labels {
				s.labels[k] = v
			}
		} else {
			s = &stageState{env: newEnv(), envKeys: map[string]struct{}{"PATH": {}}, workdir: "/", expose: map[string]struct{}{}, labels: map[string]string{}, shell: []string{"/bin/sh", "-c"}}
			s.env.set("PATH", system.DefaultPathEnv("linux"))
		}
		expand := func(word string) (string, error) {
			v, _, err := lex.ProcessWord(word, s.env)
			return v, err
		}
		for _, c := range st.Commands {
			sr.Commands = append(sr.Commands, fmt.Sprint(c))
			if _, isArg := c.(*instructions.ArgCommand); !isArg {
				if ex, ok := c.(instructions.SupportsSingleWordExpansion); ok {
					if err := ex.Expand(expand); err != nil {
						return nil, fmt.Errorf("line %d: %w", line(c.Location()), err)
					}
				}
			}
			switch c := c.(type) {
			case *instructions.ArgCommand:
				for _, kp := range c.Args {
					if v, ok := args[kp.Key]; ok {
						s.env.set(kp.Key, v)
					} else if kp.Value != nil {
						v, err := expand(*kp.Value)
						if err != nil {
							return nil, err
						}
						s.env.set(kp.Key, v)
					} else if v, ok := global.Get(kp.Key); ok {
						s.env.set(kp.Key, v)
					} else {
						continue // declared without a value: unset
					}
					sr.Args[kp.Key] = s.env.vars[kp.Key]
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					s.env.set(kv.Key, kv.Value)
					s.envKeys[kv.Key] = struct{}{}
				}
			case *instructions.UserCommand:
				s.user = c.User
			case *instructions.WorkdirCommand:
				if strings.HasPrefix(c.Path, "/") {
					s.workdir = c.Path
				} else {
					s.workdir = strings.TrimSuffix(s.workdir, "/") + "/" + c.Path
				}
			case *instructions.ExposeCommand:
				for _, p := range c.Ports {
					v, err := expand(p)
					if err != nil {
						return nil, err
					}
					if !strings.Contains(v, "/") {
						v += "/tcp"
					}
					s.expose[v] = struct{}{}
				}
			case *instructions.LabelCommand:
				for _, kv := range c.Labels {
					s.labels[kv.Key] = kv.Value
				}
			case *instructions.ShellCommand:
				s.shell = c.Shell
			case *instructions.EntrypointCommand:
				s.entrypoint = cmdLine(c.ShellDependantCmdLine, s.shell)
				s.cmd = nil // ENTRYPOINT resets an inherited CMD
			case *instructions.CmdCommand:
				s.cmd = cmdLine(c.ShellDependantCmdLine, s.shell)
			case *instructions.CopyCommand:
				cr := copyReport{Stage: name, Instruction: "COPY", FromKind: "context", Sources: orEmpty(c.SourcePaths), Dest: c.DestPath, Chown: c.Chown, Line: line(c.Location())}
				if c.From != "" {
					cr.From, cr.FromKind = c.From, "image"
					if j, err := strconv.Atoi(c.From); err == nil {
						if j < 0 || j >= i {
							return nil, fmt.Errorf("line %d: invalid stage index %d", cr.Line, j)
						}
						cr.From, cr.FromKind = rep.Stages[j].Name, "stage"
					} else if _, ok := byName[strings.ToLower(c.From)]; ok {
						cr.From, cr.FromKind = strings.ToLower(c.From), "stage"
					}
				}
				rep.Copies = append(rep.Copies, cr)
			case *instructions.AddCommand:
				rep.Copies = append(rep.Copies, copyReport{Stage: name, Instruction: "ADD", FromKind: "context", Sources: orEmpty(c.SourcePaths), Dest: c.DestPath, Chown: c.Chown, Line: line(c.Location())})
			}
		}
		rep.Stages = append(rep.Stages, sr)
		states[i] = s
		if st.Name != "" {
			byName[st.Name] = i
		}
		f := finalReport{Stage: name, User: s.user, Workdir: s.workdir, Entrypoint: orEmpty(s.entrypoint), Cmd: orEmpty(s.cmd),
			Expose: []string{}, Env: map[string]string{}, Labels: s.labels, Source: "instructions"}
		for p := range s.expose {
			f.Expose = append(f.Expose, p)
		}
		sort.Strings(f.Expose)
		// Like the image config: ENV only (ARG values are build-time, not image env).
		for k := range s.envKeys {
			f.Env[k] = s.env.vars[k]
		}
		finals[i] = f
	}
	return finals, nil
}

func cmdLine(c instructions.ShellDependantCmdLine, sh []string) []string {
	if c.PrependShell {
		return append(append([]string{}, sh...), strings.Join(c.CmdLine, " "))
	}
	return append([]string{}, c.CmdLine...)
}
