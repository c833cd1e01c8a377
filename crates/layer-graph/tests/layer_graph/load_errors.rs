//! A broken checkpoint gives one clear error line naming the file and what is wrong.

use std::path::Path;

use layer_graph::{LoadOptions, Model};
use safetensors::{SafeTensors, tensor::TensorView};

use crate::common::fixtures;

/// A copy of the tiny llama whose model.safetensors is rewritten by `edit`.
fn broken_copy(edit: impl FnOnce(&[u8]) -> Vec<u8>) -> tempfile::TempDir {
    let src = fixtures().join("tiny/llama");
    let dir = tempfile::tempdir().unwrap();
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    std::fs::write(dir.path().join("model.safetensors"), edit(&bytes)).unwrap();
    dir
}

/// Re-serialises the checkpoint through `change`, which may drop, reshape or add tensors.
fn rewrite(bytes: &[u8], change: impl Fn(&mut Vec<(String, TensorView<'_>)>)) -> Vec<u8> {
    let st = SafeTensors::deserialize(bytes).unwrap();
    let mut tensors = st.tensors();
    change(&mut tensors);
    safetensors::serialize(tensors, None).unwrap()
}

fn load_error(dir: &Path) -> String {
    match Model::load(dir, LoadOptions::default()) {
        Ok(_) => panic!("{} loaded, but it is broken", dir.display()),
        Err(e) => {
            let message = e.to_string();
            println!("error: {message}");
            assert!(!message.contains('\n'), "error is not one line: {message}");
            message
        }
    }
}

const VICTIM: &str = "model.layers.1.self_attn.k_proj.weight";

#[test]
fn missing_tensor_is_named() {
    let dir = broken_copy(|b| rewrite(b, |t| t.retain(|(n, _)| n != VICTIM)));
    let e = load_error(dir.path());
    assert!(
        e.contains("missing tensor") && e.contains(VICTIM) && e.contains("model.safetensors"),
        "{e}"
    );
}

#[test]
fn wrong_shape_names_expected_and_found() {
    let dir = broken_copy(|b| {
        rewrite(b, |t| {
            let (_, view) = t.iter_mut().find(|(n, _)| n == VICTIM).unwrap();
            let flat = view.shape().iter().product::<usize>();
            *view = TensorView::new(view.dtype(), vec![flat], view.data()).unwrap();
        })
    });
    let e = load_error(dir.path());
    assert!(
        e.contains(VICTIM)
            && e.contains("[32, 64]")
            && e.contains("[2048]")
            && e.contains("model.safetensors"),
        "{e}"
    );
}

#[test]
fn unexpected_tensor_is_named() {
    static EXTRA: [u8; 16] = [0; 16];
    let dir = broken_copy(|b| {
        rewrite(b, |t| {
            t.push((
                "model.layers.0.mystery.weight".into(),
                TensorView::new(safetensors::Dtype::F32, vec![4], &EXTRA).unwrap(),
            ))
        })
    });
    let e = load_error(dir.path());
    assert!(
        e.contains("unexpected tensor") && e.contains("model.layers.0.mystery.weight"),
        "{e}"
    );
}

#[test]
fn truncated_file_is_reported() {
    let dir = broken_copy(|b| b[..b.len() / 2].to_vec());
    let e = load_error(dir.path());
    assert!(
        e.contains("model.safetensors") && e.contains("truncated or corrupt"),
        "{e}"
    );
}

#[test]
fn missing_config_is_reported() {
    let dir = broken_copy(|b| b.to_vec());
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    let e = load_error(dir.path());
    assert!(
        e.contains("config.json") && e.contains("No such file"),
        "{e}"
    );
}

#[test]
fn bad_config_value_names_the_key() {
    let dir = broken_copy(|b| b.to_vec());
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "\"num_key_value_heads\": 2",
        "\"num_key_value_heads\": \"two\"",
    );
    std::fs::write(&path, text).unwrap();
    let e = load_error(dir.path());
    assert!(
        e.contains("config.json") && e.contains("num_key_value_heads"),
        "{e}"
    );
}

#[test]
fn tokenizer_larger_than_the_embedding_is_refused() {
    let dir = broken_copy(|b| b.to_vec());
    std::fs::copy(
        crate::common::models().join("smollm2-135m/tokenizer.json"),
        dir.path().join("tokenizer.json"),
    )
    .unwrap();
    let e = load_error(dir.path());
    assert!(
        e.contains("tokenizer.json") && e.contains("49152 tokens") && e.contains("do not match"),
        "{e}"
    );
}

#[test]
fn non_finite_logits_fail_the_request_instead_of_scoring_it() {
    use layer_graph::scoring::{ScoreOptions, ScoreRequest, score};
    let dir = broken_copy(|b| {
        rewrite(b, |t| {
            let (_, view) = t
                .iter_mut()
                .find(|(n, _)| n == "model.norm.weight")
                .unwrap();
            let nan: &'static [u8] =
                Vec::leak(f32::NAN.to_le_bytes().repeat(view.data().len() / 4));
            *view = TensorView::new(view.dtype(), view.shape().to_vec(), nan).unwrap();
        })
    });
    let model = Model::load(dir.path(), LoadOptions::default()).unwrap();
    let plan = layer_plan::Plan::baseline(model.stack().num_layers()).unwrap();
    let reqs = [ScoreRequest {
        context: vec![1, 2, 3],
        continuation: vec![4, 5],
    }];
    let e = score(&model, &plan, &reqs, &mut ScoreOptions::new(1), &mut |_| {})
        .unwrap_err()
        .to_string();
    println!("error: {e}");
    assert!(
        e.starts_with("scoring request 0: log-probability NaN"),
        "{e}"
    );
}

#[test]
fn unreadable_tokenizer_config_is_reported() {
    let dir = broken_copy(|b| b.to_vec());
    std::fs::write(dir.path().join("tokenizer_config.json"), [0xff, 0xfe, b'{']).unwrap();
    let e = load_error(dir.path());
    assert!(
        e.contains("tokenizer_config.json") && e.contains("UTF-8"),
        "{e}"
    );
}

#[test]
fn unknown_activation_names_the_key() {
    for (family, key) in [
        ("llama", "hidden_act"),
        ("mistral", "hidden_act"),
        ("mixtral", "hidden_act"),
        ("qwen2_moe", "hidden_act"),
        ("gemma2", "hidden_activation"),
        ("gemma3", "hidden_activation"),
        ("phi3", "hidden_act"),
        ("olmo2", "hidden_act"),
        ("gpt_neox", "hidden_act"),
        ("bert", "hidden_act"),
        ("gpt2", "activation_function"),
    ] {
        let dir = crate::common::tiny_with_config(family, |c| {
            c.insert(key.into(), serde_json::json!("quick_tanh"));
        });
        let e = load_error(dir.path());
        assert!(
            e.contains("config.json")
                && e.contains(&format!("`{key}`"))
                && e.contains("quick_tanh"),
            "{family}: {e}"
        );
    }
}

#[test]
fn unsupported_options_name_their_key() {
    let rope = crate::common::tiny_with_config("phi3", |c| {
        c["rope_parameters"]["rope_type"] = serde_json::json!("yarn");
    });
    let e = load_error(rope.path());
    println!("phi3 with yarn: {e}");
    assert!(
        e.contains("`rope_type`") && e.contains("yarn") && e.contains("longrope"),
        "{e}"
    );
    let short = crate::common::tiny_with_config("phi3", |c| {
        c["rope_parameters"]["long_factor"] = serde_json::json!([1.0, 2.0]);
    });
    let e = load_error(short.path());
    assert!(
        e.contains("`long_factor` has 2 entries") && e.contains("(8)"),
        "{e}"
    );
    let quantised = crate::common::tiny_with_config("gemma2", |c| {
        c.insert(
            "quantization_config".into(),
            serde_json::json!({"quant_method": "gptq", "bits": 4}),
        );
    });
    let e = load_error(quantised.path());
    println!("quantised gemma2: {e}");
    assert!(
        e.contains("`quantization_config`") && e.contains("gptq"),
        "{e}"
    );
    let bidirectional = crate::common::tiny_with_config("gemma3", |c| {
        c.insert(
            "use_bidirectional_attention".into(),
            serde_json::json!(true),
        );
    });
    assert!(load_error(bidirectional.path()).contains("`use_bidirectional_attention`"));
}

#[test]
fn unknown_family_lists_the_supported_model_types() {
    let dir = crate::common::tiny_with_config("llama", |c| {
        c.insert("model_type".into(), "mamba".into());
    });
    let e = load_error(dir.path());
    assert!(
        e.contains("config.json: unsupported model_type \"mamba\"; supported: llama, mistral, qwen2, qwen3, mixtral, qwen2_moe, gemma2, gemma3_text, phi3, olmo2, gpt_neox, gpt2, bert"),
        "{e}"
    );
}
