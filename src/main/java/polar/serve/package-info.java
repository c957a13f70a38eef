/**
 * Serving: continuous batching ({@link polar.serve.Scheduler}) over a {@link polar.serve.BatchModel} (the engine,
 * through {@link polar.serve.EngineBatchModel}), behind an OpenAI-compatible HTTP server ({@link polar.serve.Server}).
 *
 * <pre>
 * polar serve -m ../shared/models/tiny-llama --port 8080 [--api-key KEY]
 *
 * curl -s localhost:8080/v1/completions -H 'Content-Type: application/json' \
 *      -d '{"prompt": "Once upon a time", "max_tokens": 32, "temperature": 0}'
 * curl -sN localhost:8080/v1/chat/completions -H 'Content-Type: application/json' \
 *      -d '{"messages": [{"role": "user", "content": "Tell me a story"}], "stream": true}'
 * curl -s localhost:8080/metrics
 *
 * # OpenAI Python client: from openai import OpenAI
 * # client = OpenAI(base_url="http://127.0.0.1:8080/v1", api_key="KEY or anything")
 * # client.completions.create(model="tiny-llama", prompt="Once upon a time", max_tokens=32)
 * </pre>
 *
 * <p>Request fields: {@code prompt} (string or token ids) or {@code messages}; {@code max_tokens}
 * ({@code max_completion_tokens} for chat), {@code temperature}, {@code top_p}, {@code top_k} (an extension),
 * {@code seed}, {@code stop}, {@code stream}, {@code stream_options.include_usage}, {@code ignore_eos} (an
 * extension). Refused with 400 rather than ignored: {@code n > 1}, {@code logprobs}, penalties, {@code logit_bias},
 * {@code tools}, {@code echo}, {@code suffix}, {@code best_of > 1}. {@code /v1/models} adds {@code vocab_size} (the
 * tokenizer's, below which prompt token ids must lie) to the OpenAI model card.
 *
 * <p>{@link polar.serve.LoadGenerator} puts load on such a server and reports throughput and latency percentiles
 * ({@code polar bench serve}, {@link polar.serve.ServeBench}; {@code benchmarks/gpu/serve-load.sh} on the GPU host).
 */
package polar.serve;
