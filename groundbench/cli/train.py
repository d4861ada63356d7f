"""``groundbench train METHOD``: pretrain UpDn / the blind baseline, or fine-tune with HINT and its relatives."""
from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from .. import distributed
from ..errors import GroundbenchError
from ..experiment import (RunSpec, check_device, default_cache_root, ensure_pretrained, open_data,
                          resolve_method, train_run)
from ..io import check_writable
from ..methods import METHODS
from ..precision import CHOICES as PRECISIONS, check_compile
from ..models import is_builtin
from ..models.external import read_model_args, resolve_model_class
from ..recipes import load_recipe
from ..selection import DEFAULT_SELECTION, SELECTIONS
from ..tasks import TASKS, get_task

PATH = click.Path(path_type=Path)


@click.command()
@click.argument("method", type=click.Choice(list(METHODS)))
@click.option("--task", default="vqa", show_default=True, type=click.Choice(list(TASKS)))
@click.option("--split", help="vqa: cp (VQA-CP v2, the default) or v2; captioning: robust (the default), "
              "standard or karpathy")
@click.option("--data", type=PATH, help="a prepared store (groundbench data vqa|captioning); default: the "
              "task's synthetic world")
@click.option("--out", type=PATH, help="run directory [runs/METHOD-TASK-SPLIT-sSEED]")
@click.option("--init", type=PATH, help="checkpoint to fine-tune from (fine-tuning methods)")
@click.option("--config", "recipe_path", type=PATH, help="a recipe from baselines/")
@click.option("--epochs", type=int)
@click.option("--batch-size", type=int)
@click.option("--lr", type=float)
@click.option("--lam", type=float, help="weight of the task loss (HINT family)")
@click.option("--horizon", type=int, help="hint-tbptt: decoder steps its importance backpropagates through [3]")
@click.option("--seed", default=0, show_default=True, type=click.IntRange(0, 2**32 - 1))
@click.option("--device", default=None, help="cuda when available, else cpu")
@click.option("--hint-fraction", type=click.FloatRange(0, 1), help="seeded share of the human-map questions used")
@click.option("--model", "model_spec", help="your own model: package.module:ClassName or an installed "
              "'groundbench.models' entry point (default: the method's built-in model)")
@click.option("--model-args", type=PATH, help="JSON object of constructor arguments for --model")
@click.option("--select", "select", type=click.Choice(list(SELECTIONS)), default=DEFAULT_SELECTION, show_default=True,
              help="the val score that keeps the best epoch: the task's own (VQA soft accuracy, CIDEr-D) or "
              "val-spearman (gradient vs human importance); never test")
@click.option("--resume", is_flag=True, help="continue an interrupted run from RUN/last.safetensors")
@click.option("--cache-dir", type=PATH, envvar="GROUNDBENCH_CACHE", help="synthetic world and pretrained runs")
@click.option("--nproc", type=click.IntRange(1), help="data-parallel over NPROC processes on this machine: runs "
              "this command under torchrun (README, 'GPU and multi-GPU'); --batch-size stays the global batch")
@click.option("--precision", "precision", type=click.Choice(PRECISIONS), default="auto", show_default=True,
              help="fp32, bf16 or fp16 (GradScaler) autocast; auto: bf16 on a CUDA GPU that supports it, else fp32 "
              "(reduced precision is checked against fp32 on the first batch: README, 'Mixed precision and speed')")
@click.option("--compile", "compile_", is_flag=True, help="torch.compile the model (plain methods; not HINT's family)")
@click.option("--workers", type=click.IntRange(0), help="DataLoader worker processes [0 on cpu, 4 on cuda]")
def train(method, task, split, data, out, init, recipe_path, epochs, batch_size, lr, lam, horizon, seed, device,
          hint_fraction, model_spec, model_args, select, resume, cache_dir, nproc, precision, compile_, workers):
    """Train METHOD (updn, blind, hint, attn-align, finetune, hint-random, hint-inverted; captioning: hint-tbptt)
    on a task."""
    if not METHODS[method].multi_process and (nproc is not None or distributed.launched_by_torchrun()):
        raise GroundbenchError(f"'{method}' runs in one process only: leave out --nproc / torchrun")
    if nproc is not None:
        raise SystemExit(distributed.launch(nproc, _args_without_nproc(click.get_current_context())))
    task_obj = get_task(task)
    split = split or task_obj.default_split
    if split not in task_obj.splits:
        raise GroundbenchError(f"unknown split '{split}' for task {task} (known: {', '.join(task_obj.splits)})")
    recipe = load_recipe(recipe_path) if recipe_path else {}
    if recipe and recipe["method"] != method:
        raise GroundbenchError(f"recipe is for '{recipe['method']}', not '{method}'", path=recipe_path)
    if recipe and recipe.get("task", task) != task:
        raise GroundbenchError(f"recipe is for task '{recipe['task']}', not '{task}'", path=recipe_path)
    method_overrides = dict(recipe.get("method_config", {}))
    method_overrides.update({k: v for k, v in {"epochs": epochs, "batch_size": batch_size, "lr": lr,
                                               "lam": lam, "horizon": horizon}.items() if v is not None})
    for key in ("lam", "horizon"):
        if key in method_overrides and not hasattr(METHODS[method], key):
            raise GroundbenchError(f"--{key} does not apply to '{method}'")
    resolved = resolve_method(method, task_obj, method_overrides)  # bad settings fail here, before any work
    if compile_:
        check_compile(resolved)
    cache_root = cache_dir or default_cache_root()
    device = check_device(device)
    # under torchrun: join the process group until the command ends; the rank's device (cuda:LOCAL_RANK)
    device = click.get_current_context().with_resource(distributed.process_group(device))
    if resume and distributed.active():
        raise GroundbenchError("--resume is not supported under torchrun / --nproc: resume the run single-process, "
                               "or restart it")
    distributed.check_global_batch(resolve_method(method, task_obj, method_overrides).batch_size)
    echo = click.echo if distributed.is_main() else (lambda message: None)
    if model_spec is None:
        task_obj.model_name(METHODS[method].model)  # a method without a model for this task fails here, before work
    elif METHODS[method].model != "updn":
        raise GroundbenchError(f"'{method}' trains its own built-in model; --model applies to updn (plain task-loss "
                               "training) and the fine-tuning methods")
    elif recipe.get("model_config"):
        raise GroundbenchError("a recipe's model_config sizes the built-in model; use --model-args with --model",
                               path=recipe_path)
    args = read_model_args(model_args)
    if model_spec is not None and not is_builtin(model_spec):
        resolve_model_class(model_spec)  # import errors before any work
    out = out or Path("runs") / f"{method}-{task}-{split}-s{seed}"
    if distributed.is_main():
        check_writable(out / "last.safetensors")
    with distributed.main_first():  # rank 0 generates the synthetic world (first use), then the others open it
        store, ref = open_data(data, cache_root, echo, task, split)
    task_obj.check_split(split, store)
    if METHODS[method].fine_tune and init is None and not resume:
        init = ensure_pretrained(store, ref, task, split, seed, device, cache_root, echo,
                                 model=model_spec, model_args=args if model_spec else None)
    spec = RunSpec(method, task, split, out, seed=seed, device=device, init=init, hint_fraction=hint_fraction,
                   resume=resume, method_overrides=method_overrides, model_overrides=recipe.get("model_config"),
                   model=model_spec, model_args=args if model_spec else None, select=select, precision=precision,
                   compile=compile_, workers=workers)
    train_run(spec, store, ref, echo)


def _args_without_nproc(ctx: click.Context) -> list[str]:
    """The command's own arguments as given (defaults left out), without --nproc: what each rank runs."""
    args = ["train"]
    for param in ctx.command.params:
        value = ctx.params[param.name]
        if param.name == "nproc" or value is None or ctx.get_parameter_source(param.name) == ParameterSource.DEFAULT:
            continue
        if isinstance(param, click.Argument):
            args.append(str(value))
        elif param.is_flag:
            args += [param.opts[0]] if value else []
        else:
            args += [param.opts[0], str(value)]
    return args
