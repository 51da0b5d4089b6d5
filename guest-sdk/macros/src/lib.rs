//! Procedural macros behind [`rpool-guest`](https://docs.rs/rpool-guest): `#[task]` and `#[init]`.
//!
//! Use them through the `rpool_guest` crate (`use rpool_guest::{init, task};`), never
//! directly: the code they generate refers to `::rpool_guest::__private`, so a guest crate must
//! depend on `rpool-guest`. The full documentation, with examples, is on the `rpool_guest` crate.
//!
//! Each macro keeps the annotated function exactly as written and adds, next to it, an exported
//! shim `extern "C" fn __rpool_shim_<ident>() -> i32` that implements ABI v1: read the input (the
//! JSON array of the call's arguments), deserialize each argument into its parameter's type, call
//! the function and hand its result (or error) to the host.

#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Error, Expr, ExprLit, FnArg, GenericArgument, GenericParam, Item, ItemFn, Lit, LitStr, Pat, PathArguments,
    ReturnType, Type,
};

/// Turns a function into an rpool task export (see the `rpool_guest` crate documentation).
///
/// Accepts one optional argument, `name = "export_name"`, that overrides the export's name
/// (by default the function's name).
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Task, attr.into(), item.into()).into()
}

/// Turns a function into an rpool initializer export (see the `rpool_guest` crate
/// documentation). It must return `()` or `Result<(), E>`.
///
/// Accepts one optional argument, `name = "export_name"`, that overrides the export's name
/// (by default the function's name).
#[proc_macro_attribute]
pub fn init(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Init, attr.into(), item.into()).into()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Task,
    Init,
}

impl Kind {
    fn attr(self) -> &'static str {
        match self {
            Kind::Task => "#[task]",
            Kind::Init => "#[init]",
        }
    }
}

/// Expands the attribute; on misuse, returns the compile error followed by the item unchanged,
/// so that the error is the only one reported (code that calls the function still resolves).
fn expand(kind: Kind, attr: TokenStream2, item: TokenStream2) -> TokenStream2 {
    match try_expand(kind, attr, item.clone()) {
        Ok(tokens) => tokens,
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#err #item)
        }
    }
}

fn try_expand(kind: Kind, attr: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let export_name = parse_args(kind, attr)?;
    let func = match syn::parse2::<Item>(item)? {
        Item::Fn(func) => func,
        other => {
            return Err(Error::new_spanned(other, format!("{} can only be applied to a free function", kind.attr())));
        }
    };
    check_signature(kind, &func)?;

    let ident = &func.sig.ident;
    let export_name = match export_name {
        Some(name) => name.value(),
        None => ident.unraw().to_string(),
    };
    let shim = format_ident!("__rpool_shim_{}", ident);
    let body = format_ident!("__rpool_body_{}", ident);
    let chunk_shim = format_ident!("__rpool_chunk_shim_{}", ident);

    let mut bindings = Vec::new();
    let mut args = Vec::new();
    let count = func.sig.inputs.len();
    for (index, input) in func.sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = input else {
            unreachable!("receivers are rejected by check_signature");
        };
        let label = match &*typed.pat {
            Pat::Ident(pat) => pat.ident.unraw().to_string(),
            pat => quote!(#pat).to_string(),
        };
        let var = format_ident!("__rpool_arg{}", index);
        // Spanned on the parameter's type: "the trait `Deserialize` is not implemented" points
        // there.
        bindings.push(quote_spanned! {typed.ty.span()=>
            let #var = __rpool_args.get(#index, #label)?;
        });
        args.push(var);
    }

    let call = quote!(#ident(#(#args),*));
    // Trait errors about the result ("`E` doesn't implement `Display`", "`T: Serialize` is not
    // satisfied") point at the return type.
    let output_span = match &func.sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => Span::call_site(),
    };
    let serialize = quote_spanned! {output_span=>
        ::rpool_guest::__private::serialize_output(#export_name, &__rpool_value)
    };
    let error_message = quote_spanned! {output_span=>
        ::rpool_guest::__private::error_message(&__rpool_error)
    };
    let finish = match (kind, result_type(&func.sig.output)) {
        (Kind::Task, None) => quote! {
            let __rpool_value = #call;
            #serialize
        },
        (Kind::Task, Some(_)) => quote! {
            match #call {
                ::core::result::Result::Ok(__rpool_value) => #serialize,
                ::core::result::Result::Err(__rpool_error) => {
                    ::core::result::Result::Err(#error_message)
                }
            }
        },
        (Kind::Init, None) => quote! {
            let () = #call;
            ::core::result::Result::Ok(::core::option::Option::None)
        },
        (Kind::Init, Some(_)) => quote! {
            match #call {
                ::core::result::Result::Ok(()) => {
                    ::core::result::Result::Ok(::core::option::Option::None)
                }
                ::core::result::Result::Err(__rpool_error) => {
                    ::core::result::Result::Err(#error_message)
                }
            }
        },
    };

    let doc = format!(
        "The `{export_name}` export generated by `{}` for [`{ident}`]: call it in native tests \
         with `rpool_guest::testing::call`.",
        kind.attr()
    );

    // A task also gets its chunk export (`rpool:chunk:NAME`, docs/abi.md "Chunk calls"): a
    // whole chunk of items in one call, each through the same body.
    let chunk = match kind {
        Kind::Task => {
            let chunk_name = format!("rpool:chunk:{export_name}");
            quote! {
                #[doc(hidden)]
                #[allow(non_snake_case, dead_code)]
                #[cfg_attr(target_arch = "wasm32", unsafe(export_name = #chunk_name))]
                pub extern "C" fn #chunk_shim() -> i32 {
                    ::rpool_guest::__private::run_chunk(#export_name, #body)
                }
            }
        }
        Kind::Init => quote!(),
    };

    Ok(quote! {
        #func

        // Inlined into both shims: a trap's backtrace then reads as the task's export.
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code)]
        #[inline(always)]
        fn #body(
            __rpool_input: &[u8],
        ) -> ::core::result::Result<::core::option::Option<::std::vec::Vec<u8>>, ::std::string::String> {
            let __rpool_args = ::rpool_guest::__private::Args::parse(#export_name, __rpool_input, #count)?;
            #(#bindings)*
            #finish
        }

        #[doc = #doc]
        #[doc(hidden)]
        #[allow(non_snake_case, dead_code)]
        #[cfg_attr(target_arch = "wasm32", unsafe(export_name = #export_name))]
        pub extern "C" fn #shim() -> i32 {
            ::rpool_guest::__private::run(#export_name, #body)
        }

        #chunk
    })
}

/// Parses `name = "..."`, the only attribute argument.
fn parse_args(kind: Kind, attr: TokenStream2) -> syn::Result<Option<LitStr>> {
    let mut name: Option<LitStr> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            if name.is_some() {
                return Err(meta.error("duplicate `name` argument"));
            }
            let value: Expr = meta.value()?.parse()?;
            let Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) = value else {
                return Err(Error::new_spanned(
                    value,
                    format!("`name` must be a string literal, e.g. {}", example(kind, "name = \"my_export\"")),
                ));
            };
            let text = lit.value();
            if text.is_empty() {
                return Err(Error::new_spanned(lit, "the export name must not be empty"));
            }
            if text == "memory" || text == "_initialize" {
                return Err(Error::new_spanned(
                    lit,
                    format!("`{text}` is reserved by the module ABI and cannot name a task"),
                ));
            }
            name = Some(lit);
            Ok(())
        } else {
            let path = &meta.path;
            Err(meta.error(format!(
                "unknown {} argument `{}`; the only argument is `name = \"export_name\"`",
                kind.attr(),
                quote!(#path).to_string().replace(' ', "")
            )))
        }
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(name)
}

fn example(kind: Kind, args: &str) -> String {
    match kind {
        Kind::Task => format!("#[task({args})]"),
        Kind::Init => format!("#[init({args})]"),
    }
}

fn check_signature(kind: Kind, func: &ItemFn) -> syn::Result<()> {
    let sig = &func.sig;
    let attr = kind.attr();
    if let Some(token) = &sig.asyncness {
        return Err(Error::new_spanned(
            token,
            format!("{attr} functions cannot be `async`: a task call runs to completion"),
        ));
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        return Err(Error::new_spanned(
            token,
            format!(
                "{attr} functions cannot be `unsafe`: the generated export would call it \
                 without being able to uphold its safety contract"
            ),
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(Error::new_spanned(
            abi,
            format!(
                "{attr} functions cannot declare an ABI: the macro generates the exported \
                 `extern \"C\"` function itself"
            ),
        ));
    }
    for param in &sig.generics.params {
        match param {
            GenericParam::Lifetime(_) => {}
            GenericParam::Type(_) | GenericParam::Const(_) => {
                return Err(Error::new_spanned(
                    param,
                    format!(
                        "{attr} functions cannot be generic: the argument types must be known \
                         to deserialize the input"
                    ),
                ));
            }
        }
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => {
                return Err(Error::new_spanned(
                    receiver,
                    format!("{attr} must be applied to a free function, not a method"),
                ));
            }
            FnArg::Typed(typed) => {
                if let Some(impl_trait) = find_impl_trait(&typed.ty) {
                    return Err(Error::new_spanned(
                        impl_trait,
                        format!(
                            "{attr} functions cannot take `impl Trait` parameters: the argument \
                             types must be known to deserialize the input"
                        ),
                    ));
                }
            }
        }
    }
    if let Some(variadic) = &sig.variadic {
        return Err(Error::new_spanned(variadic, format!("{attr} functions cannot be variadic")));
    }
    if kind == Kind::Init {
        check_init_output(&sig.output)?;
    }
    Ok(())
}

/// Finds an `impl Trait` in a parameter type, looking through references, parentheses and
/// slices/arrays/tuples.
fn find_impl_trait(ty: &Type) -> Option<&Type> {
    match ty {
        Type::ImplTrait(_) => Some(ty),
        Type::Reference(r) => find_impl_trait(&r.elem),
        Type::Paren(p) => find_impl_trait(&p.elem),
        Type::Group(g) => find_impl_trait(&g.elem),
        Type::Slice(s) => find_impl_trait(&s.elem),
        Type::Array(a) => find_impl_trait(&a.elem),
        Type::Tuple(t) => t.elems.iter().find_map(find_impl_trait),
        Type::Path(p) => p.path.segments.iter().find_map(|segment| match &segment.arguments {
            PathArguments::AngleBracketed(args) => args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(ty) => find_impl_trait(ty),
                _ => None,
            }),
            _ => None,
        }),
        _ => None,
    }
}

/// `Some(type)` when the return type is a `Result`, detected syntactically: the last path
/// segment is named `Result` (so `Result<T, E>`, `std::result::Result<T, E>`, `io::Result<T>`).
fn result_type(output: &ReturnType) -> Option<&Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let mut ty = &**ty;
    loop {
        match ty {
            Type::Paren(p) => ty = &p.elem,
            Type::Group(g) => ty = &g.elem,
            _ => break,
        }
    }
    match ty {
        Type::Path(path)
            if path.qself.is_none() && path.path.segments.last().is_some_and(|segment| segment.ident == "Result") =>
        {
            Some(ty)
        }
        _ => None,
    }
}

fn is_unit(ty: &Type) -> bool {
    match ty {
        Type::Tuple(t) => t.elems.is_empty(),
        Type::Paren(p) => is_unit(&p.elem),
        Type::Group(g) => is_unit(&g.elem),
        _ => false,
    }
}

fn check_init_output(output: &ReturnType) -> syn::Result<()> {
    let ReturnType::Type(_, ty) = output else {
        return Ok(());
    };
    if is_unit(ty) {
        return Ok(());
    }
    let ok_is_unit = result_type(output).is_some_and(|result| {
        let Type::Path(path) = result else {
            return false;
        };
        let Some(segment) = path.path.segments.last() else {
            return false;
        };
        let PathArguments::AngleBracketed(args) = &segment.arguments else {
            return false;
        };
        matches!(args.args.first(), Some(GenericArgument::Type(ok)) if is_unit(ok))
    });
    if ok_is_unit {
        Ok(())
    } else {
        Err(Error::new_spanned(
            ty,
            "#[init] functions must return `()` or `Result<(), E>`: an initializer has no result",
        ))
    }
}
