package polar.serve;

import java.util.List;
import java.util.Locale;

/**
 * Turns chat messages into prompt text. Polar does not run Jinja: it recognises the two common template families
 * by their markers in {@code tokenizer_config.json}'s {@code chat_template} and renders them itself; a model with no
 * template (or an unrecognised one) gets {@link #PLAIN}. Rendered text starts without BOS: the tokenizer adds it
 * ({@code encode(text, true)}) as the model's post-processor does.
 */
public enum ChatTemplate {
    /**
     * Llama 3 / 3.1 / 3.2: {@code <|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>} (content trimmed, as the
     * template does). Llama 3.1's template also adds a default system turn ("Cutting Knowledge Date: ...") and tool
     * sections; those are not reproduced.
     */
    LLAMA3("<|eot_id|>") {
        @Override
        String turn(Role role, String content) {
            return header(role.apiName) + content.strip() + "<|eot_id|>";
        }

        @Override
        String generationPrompt() { return header("assistant"); }

        private static String header(String role) { return "<|start_header_id|>" + role + "<|end_header_id|>\n\n"; }
    },
    /** ChatML (Qwen, many fine-tunes): {@code <|im_start|>role\ncontent<|im_end|>\n}. */
    CHATML("<|im_end|>") {
        @Override
        String turn(Role role, String content) { return "<|im_start|>" + role.apiName + "\n" + content + "<|im_end|>\n"; }

        @Override
        String generationPrompt() { return "<|im_start|>assistant\n"; }
    },
    /**
     * For models without a chat template: {@code "System: ...\n\nUser: ...\n\nAssistant:"}; generation stops at
     * {@code "\nUser:"} so the model does not write the user's next turn.
     */
    PLAIN(null) {
        @Override
        String turn(Role role, String content) {
            return role.apiName.substring(0, 1).toUpperCase(Locale.ROOT) + role.apiName.substring(1) + ": " + content.strip() + "\n\n";
        }

        @Override
        String generationPrompt() { return "Assistant:"; }

        @Override
        public List<String> stopStrings() { return List.of("\nUser:"); }
    };

    /** Who speaks, with the OpenAI API's role names. */
    public enum Role {
        SYSTEM("system"), USER("user"), ASSISTANT("assistant");

        public final String apiName;

        Role(String apiName) { this.apiName = apiName; }

        /** The role named {@code name}, or null. */
        public static Role of(String name) {
            for (Role r : values()) if (r.apiName.equals(name)) return r;
            return null;
        }
    }

    public record Message(Role role, String content) {}

    /** The special token that ends a turn (generation stops there), or null. */
    public final String endOfTurn;

    ChatTemplate(String endOfTurn) { this.endOfTurn = endOfTurn; }

    abstract String turn(Role role, String content);

    abstract String generationPrompt();

    /** Stop sequences the template implies, besides {@link #endOfTurn}. */
    public List<String> stopStrings() { return List.of(); }

    /** The prompt text for {@code messages}, ending where the assistant's reply begins. */
    public String render(List<Message> messages) {
        StringBuilder out = new StringBuilder();
        for (Message m : messages) out.append(turn(m.role(), m.content()));
        return out.append(generationPrompt()).toString();
    }

    /** The family of a Jinja {@code chat_template}; {@link #PLAIN} for null or an unrecognised one. */
    public static ChatTemplate recognise(String jinja) {
        if (jinja == null) return PLAIN;
        if (jinja.contains("<|start_header_id|>") && jinja.contains("<|eot_id|>")) return LLAMA3;
        if (jinja.contains("<|im_start|>") && jinja.contains("<|im_end|>")) return CHATML;
        return PLAIN;
    }
}
