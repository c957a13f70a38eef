package polar.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;
import polar.serve.ChatTemplate.Message;
import polar.serve.ChatTemplate.Role;

class ChatTemplateTest {
    private static final List<Message> DIALOGUE = List.of(
            new Message(Role.SYSTEM, "Be brief."), new Message(Role.USER, " Hi! "), new Message(Role.ASSISTANT, "Hello."),
            new Message(Role.USER, "Bye"));

    /** The start of Meta's Llama 3 template in tokenizer_config.json. */
    static final String LLAMA3_JINJA = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
            + "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}";

    @Test
    void recognisesTheCommonTemplates() {
        assertEquals(ChatTemplate.LLAMA3, ChatTemplate.recognise(LLAMA3_JINJA));
        assertEquals(ChatTemplate.CHATML, ChatTemplate.recognise(
                "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"));
        assertEquals(ChatTemplate.PLAIN, ChatTemplate.recognise(null));
        assertEquals(ChatTemplate.PLAIN, ChatTemplate.recognise("{{ messages[0]['content'] }}"));
    }

    @Test
    void rendersLlama3AsItsTemplateDoes() {
        assertEquals("<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\nHello.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nBye<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n", ChatTemplate.LLAMA3.render(DIALOGUE));
    }

    @Test
    void rendersChatMl() {
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n Hi! <|im_end|>\n"
                + "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n",
                ChatTemplate.CHATML.render(DIALOGUE));
    }

    @Test
    void rendersThePlainDefault() {
        assertEquals("System: Be brief.\n\nUser: Hi!\n\nAssistant: Hello.\n\nUser: Bye\n\nAssistant:", ChatTemplate.PLAIN.render(DIALOGUE));
        assertEquals(List.of("\nUser:"), ChatTemplate.PLAIN.stopStrings());
    }
}
