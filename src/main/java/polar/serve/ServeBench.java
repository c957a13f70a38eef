package polar.serve;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import polar.cli.UsageException;
import polar.formats.Json;
import polar.formats.JsonFields;

/**
 * {@code polar bench serve}: the {@link LoadGenerator} from the command line, against a running server. Prompts are
 * random token ids (exact lengths, seeded per request) below the server's vocabulary; outputs have fixed lengths
 * ({@code ignore_eos}); decoding is greedy. {@code --table FILE...} prints one row per report that {@code --json} wrote.
 */
public final class ServeBench {
    private ServeBench() {}

    public static final String USAGE = """
              --url URL               the server (default http://127.0.0.1:8080)
              --clients N             concurrent clients, one request in flight each (default 64)
              --requests N            requests to send (default 500)
              --prompt-tokens N       prompt length in tokens (default 128)
              --max-tokens N          tokens generated per request (default 128; EOS is ignored)
              --stream | --no-stream  stream (times first token and inter-token gaps; default) or not
              --warmup N              requests sent first and not counted (default 0; compiles the server's graphs)
              --duration SECONDS      start no request after this long (default: no limit)
              --timeout SECONDS       per request (default 600)
              --wait SECONDS          wait this long for the server to answer first (default 0)
              --model NAME            the model field (default: the server's first model)
              --vocab N               prompt ids lie in [16, N) (default: vocab_size from /v1/models)
              --api-key KEY           bearer token
              --seed N                seeds the prompts (default 1)
              --label TEXT            names the row (default: the model and the client count)
              --json FILE             writes settings and report as JSON
            """;

    /** Parsed options. */
    record Options(URI url, int clients, int requests, int promptTokens, int maxTokens, boolean stream, int warmup, Duration duration,
                   Duration timeout, Duration readyWait, String model, int vocab, String apiKey, long seed, String label, Path json) {

        static Options parse(String[] args) {
            String url = "http://127.0.0.1:8080", model = null, apiKey = null, label = null;
            int clients = 64, requests = 500, promptTokens = 128, maxTokens = 128, warmup = 0, vocab = 0;
            long seed = 1, duration = 0, timeout = 600, wait = 0;
            boolean stream = true;
            Path json = null;
            for (int i = 0; i < args.length; i++) {
                String flag = args[i];
                if (flag.equals("--stream")) { stream = true; continue; }
                if (flag.equals("--no-stream")) { stream = false; continue; }
                if (i + 1 >= args.length) throw new UsageException("missing value after " + flag);
                String v = args[++i];
                switch (flag) {
                    case "--url" -> url = v;
                    case "--clients" -> clients = ServeCommand.Options.intIn(flag, v, 1, 100_000);
                    case "--requests" -> requests = ServeCommand.Options.intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--prompt-tokens" -> promptTokens = ServeCommand.Options.intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--max-tokens" -> maxTokens = ServeCommand.Options.intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--warmup" -> warmup = ServeCommand.Options.intIn(flag, v, 0, Integer.MAX_VALUE);
                    case "--duration" -> duration = ServeCommand.Options.intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--timeout" -> timeout = ServeCommand.Options.intIn(flag, v, 1, Integer.MAX_VALUE);
                    case "--wait" -> wait = ServeCommand.Options.intIn(flag, v, 0, Integer.MAX_VALUE);
                    case "--model" -> model = v;
                    case "--vocab" -> vocab = ServeCommand.Options.intIn(flag, v, FIRST_ID + 1, Integer.MAX_VALUE);
                    case "--api-key" -> apiKey = v;
                    case "--seed" -> seed = ServeCommand.Options.intIn(flag, v, 0, Integer.MAX_VALUE);
                    case "--label" -> label = v;
                    case "--json" -> json = Path.of(v);
                    default -> throw new UsageException("unknown option " + flag);
                }
            }
            URI uri;
            try {
                uri = URI.create(url);
            } catch (IllegalArgumentException e) {
                throw new UsageException("--url is not a URL: " + url);
            }
            if (!"http".equals(uri.getScheme()) && !"https".equals(uri.getScheme())) throw new UsageException("--url must be http(s)://HOST:PORT, got " + url);
            return new Options(uri, clients, requests, promptTokens, maxTokens, stream, warmup, duration == 0 ? null : Duration.ofSeconds(duration),
                    Duration.ofSeconds(timeout), Duration.ofSeconds(wait), model, vocab, apiKey, seed, label, json);
        }
    }

    /** Prompt ids start here: low ids are often special tokens (BOS, EOS, padding). */
    static final int FIRST_ID = 16;

    /** Runs {@code polar bench serve args}; returns the exit code (1 when any request failed). */
    public static int run(String[] args, PrintStream out) throws IOException, InterruptedException {
        if (args.length > 0 && (args[0].equals("-h") || args[0].equals("--help"))) {
            out.print("usage: polar bench serve [options]   or   polar bench serve --table REPORT.json...\n" + USAGE);
            return 0;
        }
        if (args.length > 0 && args[0].equals("--table")) {
            if (args.length == 1) throw new UsageException("--table needs report files (written by --json)");
            out.print(table(java.util.Arrays.stream(args, 1, args.length).map(Path::of).toList()));
            return 0;
        }
        Options o = Options.parse(args);
        LoadGenerator.Target probe = new LoadGenerator.Target(o.url(), o.apiKey(), o.model(), o.timeout());
        LoadGenerator generator = new LoadGenerator(probe);
        if (o.readyWait().isPositive() && !generator.awaitReady(o.readyWait()))
            throw new IOException("the server at " + o.url() + " did not answer GET /v1/models within " + o.readyWait().toSeconds() + " s");
        JsonFields card = generator.firstModel();
        String model = o.model() != null ? o.model() : card != null ? card.string("id") : null;
        int vocab = o.vocab() > 0 ? o.vocab() : card != null && card.has("vocab_size") ? (int) card.integer("vocab_size") : 0;
        if (vocab <= FIRST_ID) throw new UsageException("the server does not say its vocabulary size (vocab_size in /v1/models); give --vocab N");
        generator = new LoadGenerator(new LoadGenerator.Target(o.url(), o.apiKey(), model, o.timeout()));

        String label = o.label() != null ? o.label() : model + " c" + o.clients();
        out.printf(Locale.ROOT, "bench serve: %s at %s: %d clients, %d requests of %d prompt + %d output tokens%s%s%n", model, o.url(), o.clients(),
                o.requests(), o.promptTokens(), o.maxTokens(), o.stream() ? ", streamed" : "", o.duration() != null ? ", at most " + o.duration().toSeconds() + " s" : "");
        if (o.warmup() > 0) {
            // Other ids than the measured run's, so nothing the server might cache carries over.
            LoadGenerator.Run w = generator.run(o.clients(), o.warmup(), i -> request(o, vocab, -1 - i), null);
            LoadGenerator.Report wr = LoadGenerator.Report.of(o.clients(), w);
            out.printf(Locale.ROOT, "warm-up: %d requests in %.1f s (%d failed)%n", wr.done(), wr.seconds(), wr.failed());
        }
        LoadGenerator.Run run = generator.run(o.clients(), o.requests(), i -> request(o, vocab, i), o.duration());
        LoadGenerator.Report report = LoadGenerator.Report.of(o.clients(), run);
        out.print(report.text());
        if (o.json() != null) {
            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("label", label);
            doc.put("url", o.url().toString());
            doc.put("model", model);
            doc.put("prompt_tokens", o.promptTokens());
            doc.put("max_tokens", o.maxTokens());
            doc.put("stream", o.stream());
            doc.put("warmup", o.warmup());
            doc.put("report", report.json());
            Path parent = o.json().toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            Files.writeString(o.json(), Json.writePretty(doc) + "\n");
        }
        return report.failed() > 0 || report.done() == 0 ? 1 : 0;
    }

    /** Request {@code i}: {@code promptTokens} ids drawn from the request's own seed. */
    private static LoadGenerator.Request request(Options o, int vocab, long i) {
        SplittableRandom random = new SplittableRandom(o.seed() * 1_000_003L + i);
        int[] ids = new int[o.promptTokens()];
        for (int t = 0; t < ids.length; t++) ids[t] = random.nextInt(FIRST_ID, vocab);
        return LoadGenerator.Request.tokens(ids, o.maxTokens(), o.stream());
    }

    /** The table of {@code --table FILE...}: one row per report that {@code --json} wrote. */
    static String table(java.util.List<Path> files) throws IOException {
        StringBuilder t = new StringBuilder(String.format(Locale.ROOT, "%-28s %5s %6s %10s %9s %9s %8s %8s %9s %9s%n",
                "run", "done", "failed", "tokens/s", "TTFT p50", "TTFT p99", "ITL p50", "ITL p99", "E2E p50", "E2E p99"));
        t.append(String.format(Locale.ROOT, "%-28s %5s %6s %10s %9s %9s %8s %8s %9s %9s%n", "", "", "", "", "ms", "ms", "ms", "ms", "ms", "ms"));
        for (Path f : files) {
            JsonFields doc = JsonFields.of(Json.parse(f), f.toString()), r = doc.object("report");
            t.append(String.format(Locale.ROOT, "%-28s %5d %6d %10.0f %9.1f %9.1f %8.2f %8.2f %9.0f %9.0f%n", doc.string("label"),
                    r.integer("requests_done"), r.integer("requests_failed"), r.number("output_tokens_per_s", Double.NaN),
                    ms(r, "ttft_ms", "p50"), ms(r, "ttft_ms", "p99"), ms(r, "itl_ms", "p50"), ms(r, "itl_ms", "p99"),
                    ms(r, "e2e_ms", "p50"), ms(r, "e2e_ms", "p99")));
        }
        return t.toString();
    }

    private static double ms(JsonFields report, String what, String percentile) {
        return report.object(what).number(percentile, Double.NaN);
    }
}
