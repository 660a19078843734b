package cli

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/tenancy"
)

// runNS manages namespaces: the administrator's commands.
func runNS(ctx context.Context, e *env, args []string) error {
	fs := e.newFlagSet("ns")
	out := fs.String("out", "", "write the namespace's credentials to `FILE` (0600) instead of stdout")
	maxStorage := fs.String("max-storage", "", "the namespace's JetStream storage `LIMIT` (such as 1GiB, or none)")
	ttl := fs.Duration("ttl", 0, "with creds: the credentials expire after `DURATION` (default: never)")
	account := fs.String("account", "", "with add, on a NATS system natsfn joins: the public `KEY` of the account its operator made for the namespace")
	signingKey := fs.String("signing-key", "", "with add, on a NATS system natsfn joins: a `FILE` holding the seed of one of the account's signing keys")
	pos, err := e.parse(fs, args, 1, 2)
	if err != nil {
		return err
	}
	op := pos[0]
	wantName := map[string]bool{"add": true, "set": true, "rm": true, "creds": true, "ls": false}
	needsName, ok := wantName[op]
	switch {
	case !ok:
		return usageErrorf("unknown ns operation %q; want add, set, ls, rm or creds", op)
	case needsName && len(pos) < 2:
		return usageErrorf("ns %s needs a NAME", op)
	case !needsName && len(pos) > 1:
		return usageErrorf("unexpected argument %q", pos[1])
	case *out != "" && op != "add" && op != "creds":
		return usageErrorf("--out applies to ns add and ns creds")
	case *ttl != 0 && op != "creds" && op != "add":
		return usageErrorf("--ttl applies to ns add and ns creds")
	case *ttl < 0:
		return usageErrorf("--ttl must not be negative")
	case op == "set" && *maxStorage == "":
		return usageErrorf("ns set needs --max-storage")
	case *maxStorage != "" && op != "add" && op != "set":
		return usageErrorf("--max-storage applies to ns add and ns set")
	case (*account != "" || *signingKey != "") && op != "add":
		return usageErrorf("--account and --signing-key apply to ns add")
	case (*account == "") != (*signingKey == ""):
		return usageErrorf("--account and --signing-key go together")
	}
	var seed string
	if *signingKey != "" {
		b, err := os.ReadFile(*signingKey)
		if err != nil {
			return fmt.Errorf("--signing-key: %v", err)
		}
		seed = strings.TrimSpace(string(b))
	}
	var name string
	if needsName {
		name = pos[1]
		if err := api.ValidateName("namespace", name); err != nil {
			return usageErrorf("%v", err)
		}
	}
	limit := int64(api.NoLimit)
	if *maxStorage != "" && *maxStorage != "none" {
		if limit, err = parseBytes(*maxStorage); err != nil || limit < api.MinNamespaceStorage {
			return usageErrorf("--max-storage %q: want a size of at least %dMiB, such as 1GiB, or none", *maxStorage, api.MinNamespaceStorage>>20)
		}
	}

	admin, closeConn, err := e.admin()
	if err != nil {
		return err
	}
	defer closeConn()
	switch op {
	case "ls":
		list, err := admin.Namespaces(ctx)
		if err != nil {
			return err
		}
		if e.global.json {
			return e.printJSON(list)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 3, ' ', 0)
		fmt.Fprintln(tw, "NAME\tMAX STORAGE\tACCOUNT\tCREATED")
		for _, ns := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ns.Name, storageLimit(ns.MaxStorage), ns.Account, timestamp(ns.Created))
		}
		return tw.Flush()
	case "add", "creds":
		var creds *api.NamespaceCreds
		if op == "add" {
			creds, err = admin.AddNamespace(ctx, api.NamespaceRequest{Name: name, MaxStorage: &limit, TTL: api.Duration(*ttl), Account: *account, SigningKey: seed})
		} else {
			creds, err = admin.NamespaceCreds(ctx, name, *ttl)
		}
		if err != nil {
			return err
		}
		return e.writeCreds(op, creds, *out, *ttl)
	case "set":
		info, err := admin.SetNamespace(ctx, name, limit)
		if err != nil {
			return err
		}
		if e.global.json {
			return e.printJSON(info)
		}
		fmt.Fprintf(e.stdout, "namespace %s: max storage %s\n", info.Name, storageLimit(info.MaxStorage))
		return nil
	default: // rm
		info, err := admin.RemoveNamespace(ctx, name)
		if err != nil {
			return err
		}
		if e.global.json {
			return e.printJSON(info)
		}
		fmt.Fprintf(e.stdout, "removed namespace %s with its functions, their data and its credentials\n", info.Name)
		return nil
	}
}

// writeCreds writes a namespace's credentials to out (0600), or to stdout.
func (e *env) writeCreds(op string, creds *api.NamespaceCreds, out string, ttl time.Duration) error {
	if out == "" {
		if e.global.json {
			return e.printJSON(creds)
		}
		_, err := fmt.Fprint(e.stdout, creds.Creds)
		return err
	}
	if err := tenancy.WriteFile(out, []byte(creds.Creds)); err != nil {
		return fmt.Errorf("write credentials: %w", err)
	}
	verb := "created namespace"
	if op == "creds" {
		verb = "new credentials for namespace"
	}
	expiry := ""
	if ttl > 0 {
		expiry = ", valid for " + ttl.String()
	}
	fmt.Fprintf(e.stdout, "%s %s; its credentials are in %s%s (use them with --creds or NATS_CREDS)\n",
		verb, creds.Namespace.Name, out, expiry)
	return nil
}

func storageLimit(n int64) string {
	if n < 0 {
		return "none"
	}
	return strings.TrimSpace(formatBytes(n))
}
