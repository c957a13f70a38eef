package polar.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import polar.formats.Json;
import polar.formats.JsonFields;
import polar.model.Tokenizer;
import polar.serve.ApiError.ServeException;

/**
 * A validated {@code /v1/completions} or {@code /v1/chat/completions} request body.
 * Fields Polar does not implement are refused when they would change the output (for example {@code n > 1},
 * {@code logprobs}, penalties), never silently ignored; fields with no effect on the output ({@code user}, ...)
 * are accepted.
 *
 * @param includeUsage {@code stream_options.include_usage}: a last streamed chunk carries {@code usage}
 */
record ApiRequest(boolean chat, GenerationRequest generation, boolean includeUsage) {

    static final int MAX_STOP_SEQUENCES = 16;
    /** OpenAI's default {@code max_tokens} for {@code /v1/completions}. */
    static final int DEFAULT_COMPLETION_TOKENS = 16;
    private static final String SOURCE = "request body";

    /** Parses a {@code /v1/completions} body. */
    static ApiRequest completion(String body, BatchModel model) {
        JsonFields f = fields(body, model);
        refuse(f, "echo", Boolean.TRUE);
        if (f.has("suffix")) throw unsupported("suffix");
        if (f.has("best_of") && f.integer("best_of") != 1) throw unsupported("best_of");
        int[] prompt = completionPrompt(f, model.tokenizer());
        int maxTokens = f.intAtLeast("max_tokens", 1, DEFAULT_COMPLETION_TOKENS);
        return build(f, false, prompt, maxTokens, List.of(), new int[0]);
    }

    /** Parses a {@code /v1/chat/completions} body, rendering its messages with {@code template}. */
    static ApiRequest chat(String body, BatchModel model, ChatTemplate template) {
        JsonFields f = fields(body, model);
        if (f.has("tools") && !f.list("tools").isEmpty()) throw unsupported("tools");
        if (f.has("functions")) throw unsupported("functions");
        if (f.has("response_format") && !"text".equals(f.object("response_format").string("type", "text")))
            throw unsupported("response_format");
        List<ChatTemplate.Message> messages = new ArrayList<>();
        List<JsonFields> items = f.objects("messages");
        if (items.isEmpty()) throw invalid("field 'messages' must hold at least one message");
        for (JsonFields m : items) {
            String roleName = m.string("role");
            ChatTemplate.Role role = ChatTemplate.Role.of(roleName);
            if (role == null) throw invalid(m.source() + ": role '" + roleName + "' is not one of system, user, assistant");
            messages.add(new ChatTemplate.Message(role, messageText(m)));
        }
        Tokenizer tokenizer = model.tokenizer();
        int[] prompt = tokenizer.encode(template.render(messages), true);
        List<String> stop = new ArrayList<>(template.stopStrings());
        int[] stopTokens = new int[0];
        if (template.endOfTurn != null) {
            int[] eot = tokenizer.encode(template.endOfTurn, false);
            if (eot.length == 1) stopTokens = eot; // the usual case: a special token
            else stop.add(template.endOfTurn);
        }
        int maxTokens = f.has("max_completion_tokens") ? f.intAtLeast("max_completion_tokens", 1)
                : f.intAtLeast("max_tokens", 1, Math.max(1, model.contextLength() - prompt.length));
        return build(f, true, prompt, maxTokens, stop, stopTokens);
    }

    private static JsonFields fields(String body, BatchModel model) {
        Object json;
        try {
            json = Json.parse(body, SOURCE);
        } catch (Json.JsonException e) {
            throw ApiError.INVALID_JSON.with("malformed JSON: " + e.getMessage());
        }
        if (!(json instanceof Map<?, ?>)) throw ApiError.INVALID_JSON.with(SOURCE + " must be a JSON object");
        JsonFields f = JsonFields.of(json, SOURCE);
        String name = f.string("model", model.id());
        if (!name.equals(model.id())) throw ApiError.MODEL_NOT_FOUND.with("the model '" + name + "' does not exist; this server serves '" + model.id() + "'");
        if (f.has("n") && f.integer("n") != 1) throw unsupported("n");
        refuse(f, "logprobs", Boolean.TRUE);
        if (f.has("top_logprobs")) throw unsupported("top_logprobs");
        for (String penalty : List.of("presence_penalty", "frequency_penalty"))
            if (f.has(penalty) && f.number(penalty) != 0) throw unsupported(penalty);
        if (f.has("logit_bias") && !f.object("logit_bias").map().isEmpty()) throw unsupported("logit_bias");
        return f;
    }

    private static ApiRequest build(JsonFields f, boolean chat, int[] prompt, int maxTokens, List<String> templateStops, int[] stopTokens) {
        if (prompt.length == 0) throw invalid("the prompt encodes to no tokens");
        float temperature = (float) f.number("temperature", 1.0);
        if (!(temperature >= 0 && temperature <= 2)) throw invalid("field 'temperature' must be between 0 and 2, got " + temperature);
        float topP = (float) f.number("top_p", 1.0);
        if (!(topP > 0 && topP <= 1)) throw invalid("field 'top_p' must be in (0, 1], got " + topP);
        long topK = f.integer("top_k", 0);
        if (topK < -1 || topK > Integer.MAX_VALUE) throw invalid("field 'top_k' must be -1 or 0 (off) or a positive count, got " + topK);
        long seed = f.has("seed") ? f.integer("seed") : ThreadLocalRandom.current().nextLong();
        List<String> stop = new ArrayList<>(templateStops);
        stop.addAll(stopStrings(f));
        boolean stream = f.bool("stream", false);
        JsonFields options = f.objectOrNull("stream_options");
        boolean includeUsage = options != null && options.bool("include_usage", false);
        SamplingParams sampling = new SamplingParams(temperature, topP, (int) Math.max(0, topK), seed);
        return new ApiRequest(chat, new GenerationRequest(prompt, maxTokens, sampling, stop, stopTokens,
                f.bool("ignore_eos", false), stream), includeUsage);
    }

    /** {@code prompt}: a string, an array of token ids, or an array holding one of those. */
    private static int[] completionPrompt(JsonFields f, Tokenizer tokenizer) {
        Object prompt = f.get("prompt");
        if (prompt instanceof List<?> list && list.size() == 1 && !(list.getFirst() instanceof Number)) prompt = list.getFirst();
        if (prompt instanceof String text) return tokenizer.encode(text, true);
        if (prompt instanceof List<?> ids) {
            int[] tokens = new int[ids.size()];
            for (int i = 0; i < tokens.length; i++) {
                if (!(ids.get(i) instanceof Long id) || id < 0 || id >= tokenizer.vocabSize())
                    throw invalid("field 'prompt' must be a string or an array of token ids in [0, " + tokenizer.vocabSize()
                            + "); element " + i + " is " + Json.write(ids.get(i)));
                tokens[i] = (int) (long) id;
            }
            return tokens;
        }
        if (prompt == null) throw invalid("field 'prompt' is missing");
        throw invalid("field 'prompt' must be a string or an array of token ids (one prompt per request), got " + Json.write(prompt));
    }

    /** A message's {@code content}: a string, or an array of {@code {"type":"text","text":..}} parts. */
    private static String messageText(JsonFields m) {
        Object content = m.get("content");
        if (content instanceof String s) return s;
        if (content instanceof List<?>) {
            StringBuilder text = new StringBuilder();
            for (JsonFields part : m.objects("content")) {
                if (!"text".equals(part.string("type"))) throw unsupported(part.source() + " of type '" + part.string("type") + "'");
                text.append(part.string("text"));
            }
            return text.toString();
        }
        throw invalid(m.source() + ": field 'content' must be a string or an array of text parts");
    }

    private static List<String> stopStrings(JsonFields f) {
        Object stop = f.get("stop");
        List<String> out = new ArrayList<>();
        if (stop == null) return out;
        List<?> items = stop instanceof List<?> l ? l : List.of(stop);
        if (items.size() > MAX_STOP_SEQUENCES) throw invalid("field 'stop' holds " + items.size() + " sequences; at most " + MAX_STOP_SEQUENCES);
        for (Object s : items) {
            if (!(s instanceof String str) || str.isEmpty()) throw invalid("field 'stop' must be a non-empty string or an array of them, got " + Json.write(stop));
            out.add(str);
        }
        return out;
    }

    /** Refuses a field whose value would ask for something unimplemented. */
    private static void refuse(JsonFields f, String key, Object unsupportedWhenEqual) {
        Object v = f.get(key);
        if (v != null && (v.equals(unsupportedWhenEqual) || (v instanceof Number n && n.doubleValue() != 0))) throw unsupported(key);
    }

    private static ServeException invalid(String message) { return ApiError.INVALID_FIELD.with(SOURCE + ": " + message); }

    private static ServeException unsupported(String field) {
        return ApiError.UNSUPPORTED_FIELD.with(SOURCE + ": '" + field + "' is not supported by this server");
    }
}
