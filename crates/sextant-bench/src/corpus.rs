//! The word lists benchmark events are made from: exception kinds, app domains, the
//! Django frames above app code, and the Python source that context lines are cut from.
//! Kept apart from the builder so the builder reads as structure, not data.

/// (exception type, module, message). In messages `{model}`, `{lmodel}` (lower case) and
/// `{verb}` are fixed per template, so servers that group by type and message (not by
/// stack) also see one issue per template; `{n}` becomes a number and `{u}` a UUID per
/// event.
pub const EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "DoesNotExist",
        "shop.models",
        "{model} matching query does not exist. (pk={n})",
    ),
    ("KeyError", "builtins", "'{verb}:{lmodel}:{n}'"),
    (
        "ValueError",
        "builtins",
        "invalid literal for int() with base 10: '{lmodel}-qty-{n}'",
    ),
    (
        "TypeError",
        "builtins",
        "unsupported operand type(s) for +: 'NoneType' and 'Decimal' ({lmodel} line {n})",
    ),
    (
        "AttributeError",
        "builtins",
        "'NoneType' object has no attribute '{lmodel}_address' (id {n})",
    ),
    (
        "IntegrityError",
        "django.db.utils",
        "duplicate key value violates unique constraint \"shop_{lmodel}_ref_key\"\nDETAIL:  Key (ref)=(ref-{n}) already exists.",
    ),
    (
        "OperationalError",
        "django.db.utils",
        "could not obtain lock on row in relation \"shop_{lmodel}\" (row {n})",
    ),
    (
        "ValidationError",
        "django.core.exceptions",
        "['{model} quantity {n} exceeds available stock.']",
    ),
    (
        "PermissionDenied",
        "django.core.exceptions",
        "User {n} may not {verb} {lmodel} {n}",
    ),
    (
        "ZeroDivisionError",
        "builtins",
        "division by zero (average {lmodel} value)",
    ),
    (
        "TimeoutError",
        "builtins",
        "{model} gateway did not answer within {n} ms",
    ),
    (
        "ConnectionError",
        "requests.exceptions",
        "HTTPSConnectionPool(host='{lmodel}.api.example', port=443): Max retries exceeded with url: /v1/{verb}/{u}",
    ),
    (
        "JSONDecodeError",
        "json.decoder",
        "Expecting value in {lmodel} payload: line {n} column {n} (char {n})",
    ),
    (
        "IndexError",
        "builtins",
        "list index out of range ({lmodel} lines)",
    ),
    (
        "RuntimeError",
        "builtins",
        "{model} webhook {u} delivered twice",
    ),
    (
        "CardError",
        "stripe.error",
        "Your card was declined. ({lmodel} charge {n})",
    ),
];

/// (package, model class, url segment)
pub const DOMAINS: &[(&str, &str, &str)] = &[
    ("orders", "Order", "orders"),
    ("cart", "Cart", "carts"),
    ("payments", "Payment", "payments"),
    ("inventory", "StockItem", "stock"),
    ("shipping", "Shipment", "shipments"),
    ("accounts", "Customer", "customers"),
    ("invoices", "Invoice", "invoices"),
    ("catalog", "Product", "products"),
    ("webhooks", "Delivery", "webhooks"),
    ("search", "SavedQuery", "search"),
];

pub const VERBS: &[&str] = &[
    "refund", "update", "checkout", "reserve", "cancel", "export", "sync", "merge",
];

/// Django request path: the frames an exception passes through above the app code.
pub const FRAMEWORK_OUTER: &[(&str, &str, &str)] = &[
    (
        "django/core/handlers/wsgi.py",
        "django.core.handlers.wsgi",
        "__call__",
    ),
    (
        "django/core/handlers/base.py",
        "django.core.handlers.base",
        "get_response",
    ),
    (
        "django/core/handlers/exception.py",
        "django.core.handlers.exception",
        "inner",
    ),
    (
        "django/utils/deprecation.py",
        "django.utils.deprecation",
        "__call__",
    ),
    (
        "django/core/handlers/exception.py",
        "django.core.handlers.exception",
        "inner",
    ),
    (
        "django/utils/deprecation.py",
        "django.utils.deprecation",
        "__call__",
    ),
    (
        "django/core/handlers/exception.py",
        "django.core.handlers.exception",
        "inner",
    ),
    (
        "django/core/handlers/base.py",
        "django.core.handlers.base",
        "_get_response",
    ),
    (
        "django/views/decorators/csrf.py",
        "django.views.decorators.csrf",
        "_view_wrapper",
    ),
    (
        "django/contrib/auth/decorators.py",
        "django.contrib.auth.decorators",
        "_view_wrapper",
    ),
    (
        "django/views/generic/base.py",
        "django.views.generic.base",
        "view",
    ),
    (
        "django/views/generic/base.py",
        "django.views.generic.base",
        "dispatch",
    ),
];

pub const SITE_PACKAGES: &str = "/usr/lib/python3.11/site-packages/";
pub const APP_ROOT: &str = "/srv/shop/";

/// Source lines that context windows are cut from; realistic Python of the kind that
/// surrounds Django request handling.
pub const SOURCE: &[&str] = &[
    "        response = self._middleware_chain(request)",
    "        try:",
    "            response = get_response(request)",
    "        except Exception as exc:",
    "            response = response_for_exception(request, exc)",
    "        return response",
    "    def __call__(self, request):",
    "        # Exit out of async mode if this is an async middleware.",
    "        response = None",
    "        if hasattr(self, \"process_request\"):",
    "            response = self.process_request(request)",
    "        response = response or self.get_response(request)",
    "        if hasattr(self, \"process_response\"):",
    "            response = self.process_response(request, response)",
    "        callback, callback_args, callback_kwargs = self.resolve_request(request)",
    "        wrapper_callback = self.make_view_atomic(callback)",
    "        response = wrapper_callback(request, *callback_args, **callback_kwargs)",
    "        if not request.user.is_authenticated:",
    "            return redirect_to_login(path, resolved_login_url, redirect_field_name)",
    "        return view_func(request, *args, **kwargs)",
    "        handler = getattr(self, request.method.lower(), self.http_method_not_allowed)",
    "        return handler(request, *args, **kwargs)",
    "        with transaction.atomic(using=self.db, savepoint=False):",
    "            obj = queryset.select_for_update().get(pk=pk)",
    "        clone = self._chain() if self.query.combinator else self.filter(*args, **kwargs)",
    "        num = len(clone)",
    "        if num == 1:",
    "            return clone._result_cache[0]",
    "        if not num:",
    "            raise self.model.DoesNotExist(",
    "                \"%s matching query does not exist.\" % self.model._meta.object_name",
    "    logger.info(\"processing %s for customer %s\", obj.pk, request.user.pk)",
    "    amount = sum(line.total for line in lines) + shipping_fee",
    "    if amount > settings.MAX_REFUND_AMOUNT:",
    "        raise ValidationError(_(\"Refund exceeds the order total.\"))",
    "    payload = json.loads(response.content or b\"\")",
    "    client = PaymentClient(api_key=settings.PAYMENT_API_KEY, timeout=5)",
    "    result = client.charges.create(amount=amount, currency=order.currency)",
    "    cache.set(cache_key, result, timeout=300)",
    "    return JsonResponse({\"status\": \"ok\", \"id\": obj.pk})",
    "",
    "        try:",
    "    @cached_property",
    "        return response",
    "",
    "    else:",
    "        raise",
    "    finally:",
    "",
    "        pass",
    "",
    "        )",
    "    return None",
    "",
];
